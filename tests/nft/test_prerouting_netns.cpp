// The prerouting and forward chains (the DNAT path) and the reverse-path rules, with `nft -j` as
// the oracle: what an apply builds, and tampering with them (unowned mode, so the nft CLI may)
// repaired.
#include "nft_netns.hpp"

#include <chrono>

using memguard::nft::Keeper;
using nlohmann::json;

namespace {

memguard::Desired with_reverse_path() {
    auto d = test::desired_with(2);
    d.ipv4.guards[0].reverse_path = d.ipv6.guards[0].reverse_path = {memguard::Protocol::udp};
    return d;
}

std::vector<json> rules_of(const json& listing, const std::string& chain) {
    std::vector<json> out;
    for (const json& r : test::nft_objects(listing, "rule")) {
        if (r["chain"] == chain) {
            out.push_back(r);
        }
    }
    return out;
}

// The rules of `chain` that jump (to guard4, guard6): all but the other ports' accept.
std::vector<json> jumps_of(const json& listing, const std::string& chain) {
    std::vector<json> out;
    for (const json& r : rules_of(listing, chain)) {
        if (r["expr"].back().contains("jump")) {
            out.push_back(r);
        }
    }
    return out;
}

// The `match` of a rule whose left side is a fib expression; null when it has none.
json fib_match(const json& rule) {
    for (const json& e : rule["expr"]) {
        if (e.contains("match") && e["match"]["left"].contains("fib")) {
            return e["match"];
        }
    }
    return {};
}

// The handle of the first rule of `chain` that has a fib match and mentions `text` in its JSON.
std::uint64_t handle_of(const std::string& chain, const std::string& text) {
    for (const json& r : rules_of(test::nft_json(), chain)) {
        if (!fib_match(r).is_null() && r.dump().find(text) != std::string::npos) {
            return r["handle"].get<std::uint64_t>();
        }
    }
    return 0;
}

// Our base chain `name`, on the hook of that name, at `priority`, policy accept, as nft -j lists
// it.
void check_base_chain(const json& listing, const std::string& name, int priority) {
    bool found = false;
    for (const json& c : test::nft_objects(listing, "chain")) {
        if (c["name"] == name) {
            found = true;
            CHECK(c["type"] == "filter");
            CHECK(c["hook"] == name);
            CHECK(c["prio"] == priority);
            CHECK(c["policy"] == "accept");
        }
    }
    CHECK(found);
}

} // namespace

TEST_CASE("apply builds the prerouting chain and the reverse-path rules nft lists",
          "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper;
    const auto result = keeper.reconcile(with_reverse_path(), false);
    INFO(test::describe(result));
    REQUIRE(result.committed);
    const json listing = test::nft_json();
    check_base_chain(listing, "prerouting", -110);
    const auto jumps = jumps_of(listing, "prerouting");
    REQUIRE(jumps.size() == 4); // tcp, udp × IPv4, IPv6
    for (const json& r : jumps) {
        INFO(r.dump());
        const json fib = fib_match(r);
        REQUIRE_FALSE(fib.is_null());
        CHECK(fib["left"]["fib"]["result"] == "type");
        CHECK(fib["left"]["fib"]["flags"] == json::array({"daddr"}));
        CHECK(fib["right"] == "local");
        CHECK(r["expr"].back().contains("jump"));
    }
    for (const std::string chain : {"guard4", "guard6"}) {
        const auto rules = rules_of(listing, chain);
        REQUIRE(rules.size() == 6); // lo, rp, established, allow, tcp drop, drop
        INFO(rules[1].dump());
        const json fib = fib_match(rules[1]);
        REQUIRE_FALSE(fib.is_null());
        CHECK(fib["left"]["fib"]["result"] == "oif");
        CHECK(fib["left"]["fib"]["flags"] == json::array({"saddr", "iif"}));
        CHECK(fib["right"] == false); // `oif missing`
        CHECK(rules[1].dump().find("\"udp\"") != std::string::npos);
        CHECK(rules[1]["expr"].back().contains("drop"));
    }
    CHECK(keeper.guarded_ports() == std::vector<std::uint16_t>{11211});
    CHECK(keeper.reconcile(with_reverse_path(), false).drift.empty());
}

TEST_CASE("the prerouting chain, a jump or a reverse-path rule deleted is repaired",
          "[netns][nft]") {
    struct Tamper {
        const char* chain;
        const char* match;
        const char* kind;
    };
    const auto tamper = GENERATE(Tamper{"prerouting", "\"tcp\"", "rule_missing"},
                                 Tamper{"guard4", "\"udp\"", "rule_missing"},
                                 Tamper{"guard6", "\"udp\"", "rule_missing"},
                                 Tamper{"prerouting", "", "chain_missing"});
    test::fresh_netns();
    Keeper keeper(memguard::nft::NftOptions{false});
    const auto desired = with_reverse_path();
    REQUIRE(keeper.reconcile(desired, false).committed);
    CHECK_FALSE(keeper.changed());
    std::string command;
    if (std::string(tamper.kind) == "chain_missing") {
        command = "nft flush chain inet memguard prerouting && "
                  "nft delete chain inet memguard prerouting";
    } else {
        const auto handle = handle_of(tamper.chain, tamper.match);
        REQUIRE(handle != 0);
        command = "nft delete rule inet memguard " + std::string(tamper.chain) + " handle " +
                  std::to_string(handle);
    }
    INFO(command);
    REQUIRE(test::run(command) == 0);
    CHECK(test::changed_within(keeper, std::chrono::seconds(2)));
    const auto found = keeper.compare(desired);
    INFO(test::describe(found));
    bool seen = false;
    for (const auto& d : found.drift) {
        seen = seen || (d.kind == tamper.kind && d.where == tamper.chain);
    }
    CHECK(seen);
    const auto repaired = keeper.reconcile(desired, true);
    INFO(test::describe(repaired));
    CHECK(repaired.committed);
    CHECK(repaired.error.empty());
    CHECK(keeper.compare(desired).drift.empty());
    CHECK(jumps_of(test::nft_json(), "prerouting").size() == 4);
    CHECK(handle_of("guard4", "\"udp\"") != 0);
}

TEST_CASE("a reverse-path rule changed is drift and repaired", "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper(memguard::nft::NftOptions{false});
    const auto desired = with_reverse_path();
    REQUIRE(keeper.reconcile(desired, false).committed);
    const auto handle = handle_of("guard4", "\"udp\"");
    REQUIRE(handle != 0);
    // Made loose (no `. iif`): a forged source routable through any interface would pass.
    REQUIRE(test::run("nft replace rule inet memguard guard4 handle " + std::to_string(handle) +
                      " meta l4proto udp fib saddr oif missing counter drop comment memguard") ==
            0);
    CHECK(test::changed_within(keeper, std::chrono::seconds(2)));
    const auto found = keeper.compare(desired);
    INFO(test::describe(found));
    std::vector<std::string> kinds;
    for (const auto& d : found.drift) {
        kinds.push_back(d.kind);
    }
    CHECK(kinds == std::vector<std::string>{"rule_missing", "rule_extra"});
    CHECK(keeper.reconcile(desired, true).committed);
    CHECK(keeper.compare(desired).drift.empty());
}

TEST_CASE("apply builds the forward chain nft lists; a forward jump or the chain deleted is "
          "repaired",
          "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper(memguard::nft::NftOptions{false});
    const auto desired = with_reverse_path();
    REQUIRE(keeper.reconcile(desired, false).committed);
    const json listing = test::nft_json();
    check_base_chain(listing, "forward", -150);
    const auto jumps = jumps_of(listing, "forward");
    REQUIRE(jumps.size() == 4); // tcp, udp × IPv4, IPv6
    const std::string first = jumps[0].dump();
    INFO(first);
    CHECK(first.find(R"({"ct":{"key":"direction"}},"op":"==","right":"original")") !=
          std::string::npos);
    CHECK(first.find(R"({"ct":{"key":"status"}},"op":"in","right":"dnat")") != std::string::npos);
    CHECK(first.find(R"({"ct":{"dir":"original","key":"proto-dst"}},"op":"==","right":11211)") !=
          std::string::npos);
    CHECK(jumps[3]["expr"].back()["jump"]["target"] == "guard6");
    CHECK(keeper.compare(desired).drift.empty());

    const auto tamper = GENERATE(std::string("nft delete rule inet memguard forward handle "),
                                 std::string("nft flush chain inet memguard forward && "
                                             "nft delete chain inet memguard forward"));
    const std::string command = tamper.ends_with("handle ")
                                    ? tamper + std::to_string(jumps[1]["handle"].get<int>())
                                    : tamper;
    INFO(command);
    REQUIRE(test::run(command) == 0);
    CHECK(test::changed_within(keeper, std::chrono::seconds(2)));
    const auto found = keeper.compare(desired);
    INFO(test::describe(found));
    CHECK(std::ranges::any_of(found.drift, [](const auto& d) { return d.where == "forward"; }));
    CHECK(keeper.reconcile(desired, true).committed);
    CHECK(keeper.compare(desired).drift.empty());
    CHECK(jumps_of(test::nft_json(), "forward").size() == 4);
}

TEST_CASE("each base chain first accepts packets to no guarded port; that rule deleted or "
          "changed is repaired",
          "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper(memguard::nft::NftOptions{false});
    const auto desired = with_reverse_path();
    REQUIRE(keeper.reconcile(desired, false).committed);
    const json listing = test::nft_json();
    const json by_port = {{"payload", {{"protocol", "th"}, {"field", "dport"}}}};
    for (const std::string chain : {"input", "prerouting"}) {
        const auto rules = rules_of(listing, chain);
        REQUIRE(rules.size() == 5); // the other ports' accept, then tcp, udp × IPv4, IPv6
        INFO(rules[0].dump());
        const json& expr = rules[0]["expr"];
        REQUIRE(expr.size() == 2); // nothing before the port: no family, protocol or fib
        CHECK(expr[0]["match"]["op"] == "!=");
        CHECK(expr[0]["match"]["left"] == by_port);
        CHECK(expr[0]["match"]["right"] == 11211);
        CHECK(expr[1].contains("accept"));
    }
    // forward: by the port asked for before a DNAT, which needs the protocol (nft prints it as a
    // port only then); no family, direction or DNAT status match before it.
    const auto forward = rules_of(listing, "forward");
    REQUIRE(forward.size() == 6);
    for (const std::string proto : {"tcp", "udp"}) {
        const json& expr = forward[proto == "tcp" ? 0 : 1]["expr"];
        INFO(expr.dump());
        REQUIRE(expr.size() == 3);
        CHECK(expr[0]["match"]["left"]["meta"]["key"] == "l4proto");
        CHECK(expr[0]["match"]["right"] == proto);
        CHECK(expr[1]["match"]["op"] == "!=");
        CHECK(expr[1]["match"]["left"] ==
              json({{"ct", {{"key", "proto-dst"}, {"dir", "original"}}}}));
        CHECK(expr[1]["match"]["right"] == 11211);
        CHECK(expr[2].contains("accept"));
    }
    const auto tamper = GENERATE(
        std::string("nft delete rule inet memguard prerouting handle "),
        std::string("nft replace rule inet memguard input handle H th dport != 11212 accept "
                    "comment memguard"),
        std::string("nft replace rule inet memguard forward handle H meta l4proto udp ct original "
                    "proto-dst != 1 "
                    "accept comment memguard"));
    const std::string chain = tamper.substr(tamper.find("memguard ") + 9,
                                            tamper.find(" handle") - tamper.find("memguard ") - 9);
    const auto handle = std::to_string(rules_of(listing, chain)[0]["handle"].get<int>());
    std::string command = tamper;
    if (const auto h = command.find("handle H"); h != std::string::npos) {
        command.replace(h + 7, 1, handle);
    } else {
        command += handle;
    }
    INFO(command);
    REQUIRE(test::run(command) == 0);
    CHECK(test::changed_within(keeper, std::chrono::seconds(2)));
    const auto found = keeper.compare(desired);
    INFO(test::describe(found));
    CHECK(std::ranges::any_of(
        found.drift, [&](const auto& d) { return d.kind == "rule_missing" && d.where == chain; }));
    const auto repaired = keeper.reconcile(desired, true);
    INFO(test::describe(repaired));
    CHECK(repaired.committed);
    CHECK(keeper.compare(desired).drift.empty());
    CHECK(rules_of(test::nft_json(), chain)[0]["expr"] == rules_of(listing, chain)[0]["expr"]);
}
