#include "catch.hpp"

#include "status_guards.hpp"
#include "status_text.hpp"
#include "support.hpp"

#include <algorithm>
#include <string>

using memguard::status_details;
using memguard::status_summary;
using nlohmann::json;

namespace {

json guard(const std::string& name, int port, int networks) {
    json allow = json::array();
    for (int i = 0; i < networks; ++i) {
        allow.push_back({{"net", "10.0." + std::to_string(i) + ".0/24"},
                         {"label", i == 0 ? json("web tier") : json()}});
    }
    return {{"name", name},   {"ports", {port}},     {"protocols", {"tcp", "udp"}},
            {"allow", allow}, {"allowed", networks}, {"labelled", networks > 0 ? 1 : 0}};
}

// What status gathers for a daemon that runs, in sync, with `guards` guards.
json healthy(int guards) {
    json g = json::array();
    for (int i = 0; i < guards; ++i) {
        g.push_back(guard("g" + std::to_string(i), 11211 + i, 3));
    }
    const json rule = {
        {"position", 1}, {"rule", "-j MEMGUARD"}, {"ours", true}, {"packets", 7}, {"bytes", 420}};
    return {
        {"config", "/etc/memguard.json"},
        {"in_sync", true},
        {"backend", "nftables"},
        {"backend_why", "the config asks for it"},
        {"how_to_see", "nft list table inet memguard shows them"},
        {"squatter", nullptr},
        {"guards", g},
        {"families",
         {{{"family", "ipv4"},
           {"chains", {{{"name", "INPUT"}, {"exists", true}, {"ours", false}, {"rules", {rule}}}}},
           {"sets",
            {{{"name", "allow4"},
              {"ours", true},
              {"usable", true},
              {"members", 3},
              {"references", 1}}}}}}},
        {"daemon",
         {{"pid", 42},
          {"version", "1.0"},
          {"started", "2026-01-01T00:00:00Z"},
          {"last_apply", "2026-01-01T00:00:01Z"},
          {"last_repair", "never"},
          {"last_drift", ""},
          {"repairs", 0},
          {"fail_closed", false},
          {"config_invalid", false},
          {"families", json::array()}}}};
}

bool has(const std::vector<std::string>& lines, const std::string& part) {
    return std::ranges::any_of(
        lines, [&](const std::string& l) { return l.find(part) != std::string::npos; });
}

} // namespace

TEST_CASE("status: a healthy daemon's summary is short and says nothing is wrong") {
    for (const int guards : {1, 4, 9}) {
        const auto lines = status_summary(healthy(guards));
        INFO("guards: " << guards);
        CHECK(lines.size() <= 12);
        CHECK(has(lines, "running, pid 42"));
        CHECK(has(lines, "config /etc/memguard.json: in sync"));
        CHECK(has(lines, "backend nftables (the config asks for it)"));
        CHECK(has(lines, "guard g0 (tcp/udp 11211): 3 network(s) allowed, 1 labelled"));
        CHECK(has(lines, "last apply 2026-01-01T00:00:01Z, last repair never"));
        CHECK_FALSE(has(lines, "WARNING"));
        CHECK_FALSE(has(lines, "pkts"));
    }
    CHECK(has(status_summary(healthy(9)), "and 5 more guard(s)"));
}

TEST_CASE("status --verbose: the rules, sets, labels and how to see them") {
    const auto lines = status_details(healthy(9));
    CHECK(has(lines, "ipv4:"));
    CHECK(has(lines, "7 pkts"));
    CHECK(has(lines, "set allow4: 3 member(s)"));
    CHECK(has(lines, "guard g8 (tcp/udp 11219): 10.0.0.0/24 \"web tier\""));
    CHECK(has(lines, "backend nftables: nft list table inet memguard shows them"));
}

TEST_CASE("status: each thing wrong is one line with what to do") {
    json s = healthy(1);
    s["in_sync"] = false;
    s["daemon"]["fail_closed"] = true;
    s["daemon"]["config_invalid"] = true;
    s["squatter"] = "pid 9, uid 65534 holds @memguardd/control";
    const auto lines = status_summary(s);
    CHECK(has(lines, "WARNING: FAILING CLOSED: the config is invalid; fix: memguardd check"));
    CHECK(has(lines, "WARNING: the kernel does not hold the rules the config asks for; fix: "
                     "memguardd diff"));
    CHECK(has(lines, "WARNING: pid 9, uid 65534 holds @memguardd/control; fix:"));

    s["daemon"] = nullptr;
    const auto stopped = status_summary(s);
    CHECK(has(stopped, "memguardd: not running"));
    CHECK(has(stopped, "WARNING: memguardd is not running: nothing keeps the rules in place; "
                       "fix: systemctl start memguardd"));
    CHECK_FALSE(has(stopped, "last apply"));
}

TEST_CASE("status: the guards counted as the daemon tells them, and in sync as of its last pass") {
    memguard::Policy policy;
    policy.guards.resize(1);
    auto& g = policy.guards[0];
    g.name = "default";
    g.ports = {11211};
    g.protocols = {memguard::Protocol::tcp};
    g.allow = {unit::net("10.0.0.0/24"), unit::net("10.1.0.0/24"), unit::net("fd00::/64")};
    g.labels.emplace(unit::net("10.1.0.0/24"), "web tier");
    const json counted = memguard::guards_summary(policy);
    REQUIRE(counted.size() == 1);
    CHECK(counted[0]["allowed"] == 3);
    CHECK(counted[0]["labelled"] == 1);
    CHECK_FALSE(counted[0].contains("allow")); // the daemon's answer stays small at any size
    const json full = memguard::guards_json(policy);
    CHECK(full[0]["allow"].size() == 3);
    CHECK(full[0]["allow"][1]["label"] == "web tier");

    json s = healthy(1);
    s["guards"] = counted;
    s["daemon"]["last_pass"] = "2026-01-01T00:00:09Z";
    const auto lines = status_summary(s);
    CHECK(has(lines, "guard default (tcp 11211): 3 network(s) allowed, 1 labelled"));
    CHECK(has(lines, "config /etc/memguard.json: in sync"));
    CHECK(has(lines, "repair(s) since the start), last pass 2026-01-01T00:00:09Z"));
}
