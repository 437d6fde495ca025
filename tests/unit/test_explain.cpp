// `memguardd explain`'s pure parts: the query from the command line, the legacy backend's look
// at a table (legacy/explain.cpp), the groups and their words (daemon/explain_*.cpp), and the
// daemon's memory of blocked sources with the answer the CLI reads back.
#include "support.hpp"

#include "explain.hpp"
#include "legacy/legacy_backend.hpp"
#include "recent_blocked.hpp"

#include <stdexcept>
#include <string>

using memguard::ClientVerdict;
using memguard::Family;
using memguard::Protocol;
using unit::net;

namespace {

memguard::KernelView legacy_view(const memguard::Policy& policy) {
    const auto rules = memguard::build_ruleset(policy, Family::ipv4);
    memguard::KernelView view;
    view.chain_exists = true;
    for (const auto& r : rules.jumps) {
        view.input.push_back(unit::kernel(r));
    }
    for (const auto& r : rules.chain) {
        view.chain.push_back(unit::kernel(r));
    }
    return view;
}

// Facts as run_explain gathers them: the kernel read, guarding every port of the policy.
memguard::ExplainFacts facts_for(const memguard::Policy& policy, const char* address,
                                 memguard::KernelExplain found) {
    memguard::ExplainFacts f;
    f.policy = policy;
    f.config_path = "/etc/memguard.json";
    f.query = memguard::parse_explain_query(address, "");
    f.local = {net("127.0.0.0/8"), net("::1")};
    f.kernel.backend = "nftables";
    f.kernel.found = std::move(found);
    f.kernel.guarded_ports = memguard::all_ports(policy);
    f.kernel.coverage = memguard::Coverage{};
    f.recent.known = memguard::RecentBlocked::Known::no_daemon;
    f.contacts = std::vector<memguard::Contact>{};
    return f;
}

memguard::KernelMatch element(const char* text, const char* guard = "") {
    memguard::KernelMatch m;
    m.guard = guard;
    m.where = "inet memguard allow4";
    m.element = text;
    return m;
}

} // namespace

TEST_CASE("explain: the command line's address and port") {
    const auto q = memguard::parse_explain_query("::ffff:10.1.2.3", "11211/udp");
    CHECK(q.address == net("10.1.2.3"));
    CHECK(q.port == 11211);
    CHECK(q.protocol == Protocol::udp);
    CHECK_FALSE(memguard::parse_explain_query("fd00::5", "").port.has_value());
    CHECK_THROWS_AS(memguard::parse_explain_query("10.1.2.0/24", ""), std::invalid_argument);
    CHECK_THROWS_AS(memguard::parse_explain_query("example.com", ""), std::invalid_argument);
    CHECK_THROWS_AS(memguard::parse_explain_query("10.1.2.3", "0"), std::invalid_argument);
    CHECK_THROWS_AS(memguard::parse_explain_query("10.1.2.3", "70000"), std::invalid_argument);
    CHECK_THROWS_WITH(memguard::parse_explain_query("10.1.2.3", "11211/sctp"),
                      "\"sctp\" is not a protocol (tcp or udp)");
}

TEST_CASE("explain, legacy: the -s rule or the ipset member that holds the address") {
    memguard::Policy p = unit::seed_policy();
    p.guards[0].allow = {net("10.1.0.0/16")};
    p.guards[0].labels[net("10.1.0.0/16")] = "batch";
    const auto view = legacy_view(p);
    auto found = memguard::explain_in(view, net("10.1.2.3"));
    REQUIRE(found.matches.size() == 1);
    CHECK(found.matches[0].where == "chain MEMGUARD");
    CHECK(found.matches[0].element ==
          "-A MEMGUARD -s 10.1.0.0/16 -m comment --comment \"memguard: batch\" -j ACCEPT");
    CHECK(found.matches[0].label == "batch");
    CHECK(memguard::explain_in(view, net("10.2.0.1")).matches.empty());
    CHECK(memguard::explain_in(view, net("127.0.0.1")).matches.at(0).loopback);

    for (int i = 0; i < 20; ++i) { // past the set threshold: an ipset
        p.guards[0].allow.push_back(net(("172.16." + std::to_string(i) + ".0/24").c_str()));
    }
    auto with_set = legacy_view(p);
    memguard::SetState set;
    set.usable = set.members_readable = true;
    set.members = p.guards[0].allow;
    with_set.sets["memguard4"] = set;
    found = memguard::explain_in(with_set, net("172.16.3.9"));
    REQUIRE(found.matches.size() == 1);
    CHECK(found.matches[0].where == "ipset memguard4");
    CHECK(found.matches[0].element == "172.16.3.0/24");
    CHECK(found.looked_in == std::vector<std::string>{"chain MEMGUARD", "ipset memguard4"});
}

TEST_CASE("explain, legacy: another tool's INPUT rule above our jumps decides first") {
    auto view = legacy_view(unit::seed_policy());
    memguard::KernelRule foreign;
    memguard::Rule accept;
    accept.src = net("10.9.0.0/16");
    accept.proto = Protocol::tcp;
    accept.dport = 11211;
    foreign.rule = accept;
    foreign.target = "ACCEPT";
    view.input.insert(view.input.begin(), foreign);
    const auto found = memguard::explain_in(view, net("10.9.1.1"));
    REQUIRE(found.ahead.size() == 1);
    CHECK(found.ahead[0].where == "INPUT rule 1");
    CHECK(found.ahead[0].certain);
    CHECK(found.ahead[0].protocol == Protocol::tcp);
    CHECK(memguard::explain_in(view, net("10.8.1.1")).ahead.empty()); // its -s does not hold it
    view.input.push_back(foreign); // below our jumps: ours decide first
    view.input.erase(view.input.begin());
    CHECK(memguard::explain_in(view, net("10.9.1.1")).ahead.empty());
}

TEST_CASE(
    "explain: ports met the same way are one group, a kernel element for one port splits it") {
    memguard::Policy p = unit::seed_policy();
    p.guards[0].ports = {11211, 11212};
    p.guards[0].allow = {net("10.1.0.0/16")};
    p.guards[0].listed_at.by_network[net("10.1.0.0/16")] = {"/etc/memguard.d/10-a.json",
                                                            "allow[0]"};
    auto f = facts_for(p, "10.1.2.3", {{"inet memguard allow4"}, {element("10.1.0.0/16")}, {}});
    auto groups = memguard::explain_groups(f);
    REQUIRE(groups.size() == 1);
    CHECK(groups[0].services.size() == 4);
    CHECK(groups[0].verdict == ClientVerdict::allowed);
    const std::string text = memguard::explain_text(f, groups);
    CHECK(text.starts_with("10.1.2.3 → guard default (11211, 11212 tcp, udp): ALLOWED by "
                           "10.1.0.0/16 (/etc/memguard.d/10-a.json, allow[0])\n"
                           "  kernel: inet memguard allow4 holds 10.1.0.0/16 (in sync with the "
                           "config)\n"
                           "  udp: also needs a reverse path back out of the interface it "
                           "arrives on (a forged source is dropped); the config asks for the "
                           "check, but no rule of memguardd's for it is in the kernel\n"));
    CHECK(text.find("no daemon running: recent blocked attempts unknown") != std::string::npos);

    f.kernel.found->matches[0].port = 11211; // the kernel lets it in on 11211 only
    groups = memguard::explain_groups(f);
    REQUIRE(groups.size() == 2);
    CHECK(memguard::explain_text(f, groups).find(
              "(11212 tcp, udp): ALLOWED by 10.1.0.0/16 (/etc/memguard.d/10-a.json, "
              "allow[0])\n  kernel: nothing in inet memguard allow4 holds it\n  the config "
              "allows it but the kernel does not: no daemon runs to repair this") !=
          std::string::npos);
    CHECK(memguard::explain_json(f, groups)["groups"][1]["kernel"]["in_sync"] == false);
}

TEST_CASE("explain: blocked, loopback, and a port asked for") {
    memguard::Policy p = unit::seed_policy();
    auto f = facts_for(p, "10.7.7.7", {{"inet memguard allow4"}, {}, {}});
    f.query.protocol = Protocol::tcp;
    auto groups = memguard::explain_groups(f);
    REQUIRE(groups.size() == 1);
    CHECK(groups[0].services == std::vector<memguard::ServicePort>{{Protocol::tcp, 11211}});
    CHECK(memguard::explain_text(f, groups).starts_with(
        "10.7.7.7 → guard default (11211 tcp): BLOCKED — not on the list of "
        "guard default\n  kernel: nothing in inet memguard allow4 holds it (in "
        "sync with the config)\n"));
    CHECK(memguard::explain_json(f, groups)["verdict"] == "blocked");

    f = facts_for(p, "127.0.0.1", {});
    groups = memguard::explain_groups(f);
    REQUIRE(groups.size() == 1);
    CHECK(groups[0].verdict == ClientVerdict::local);
    f.kernel.guarded_ports = std::vector<std::uint16_t>{};
    groups = memguard::explain_groups(f);
    CHECK(memguard::explain_text(f, groups).find(
              "kernel: no rule of memguardd's guards these ports: open to every source (in "
              "sync with the config)") != std::string::npos);
}

TEST_CASE("explain: the daemon's memory of blocked sources, and its answer read back") {
    using Clock = memguard::Clock;
    memguard::BlockedSources recent(4);
    const auto at = Clock::time_point(std::chrono::seconds(1'800'000'000));
    memguard::netlink::BlockedPacket packet;
    packet.source = net("10.0.0.5");
    packet.protocol = Protocol::udp;
    packet.dport = 11211;
    recent.add(packet, at);
    recent.add(packet, at + std::chrono::seconds(3));
    auto answer = memguard::read_blocked_answer(recent.about(net("10.0.0.5")).dump());
    CHECK(answer.known == memguard::RecentBlocked::Known::yes);
    CHECK(answer.packets == 2);
    CHECK(answer.last == at + std::chrono::seconds(3));
    CHECK(answer.services.at({Protocol::udp, 11211}) == 2);
    CHECK(memguard::read_blocked_answer(recent.about(net("10.0.0.6")).dump()).packets == 0);

    for (int i = 1; i <= 10; ++i) { // a flood of new sources: the table stays bounded
        packet.source = net(("10.1.0." + std::to_string(i)).c_str());
        recent.add(packet, at + std::chrono::seconds(10 + i));
        CHECK(recent.sources() <= 4);
    }
    CHECK(memguard::read_blocked_answer(recent.about(net("10.1.0.10")).dump()).packets == 1);

    CHECK(memguard::read_blocked_answer(memguard::not_logging_answer().dump()).known ==
          memguard::RecentBlocked::Known::not_logged);
    const auto refused = memguard::read_blocked_answer("{\"error\": \"unknown request\"}\n");
    CHECK(refused.known == memguard::RecentBlocked::Known::unanswered);
    CHECK(refused.why == "unknown request");
    CHECK(memguard::read_blocked_answer("garbage").known ==
          memguard::RecentBlocked::Known::unanswered);
}

TEST_CASE("explain: a set named for a guard counts for that guard, the plain one for default") {
    memguard::Policy p;
    p.guards = {unit::guard("default", {11211}, {Protocol::tcp}, {net("10.1.0.0/16")}),
                unit::guard("pages", {11311}, {Protocol::tcp}, {net("10.1.0.0/16")})};
    auto f = facts_for(p, "10.1.2.3",
                       {{"inet memguard allow4", "inet memguard allow4-pages"},
                        {element("10.1.0.0/16", "pages")},
                        {}});
    auto groups = memguard::explain_groups(f);
    REQUIRE(groups.size() == 2);
    CHECK(groups[0].guard == "default");
    CHECK(groups[0].kernel.empty());
    CHECK(groups[1].guard == "pages");
    CHECK(groups[1].kernel.size() == 1);
    f.kernel.found->matches = {element("10.1.0.0/16")};
    groups = memguard::explain_groups(f);
    CHECK(groups[0].kernel.size() == 1);
    CHECK(groups[1].kernel.empty());
}

TEST_CASE("explain: a kernel that cannot be read is said, the config's verdict stands") {
    auto f = facts_for(unit::seed_policy(), "192.168.1.7", {});
    f.kernel.found.reset();
    f.kernel.unreadable = {"Operation not permitted"};
    const auto groups = memguard::explain_groups(f);
    REQUIRE(groups.size() == 1);
    CHECK(groups[0].allowed());
    CHECK(memguard::explain_text(f, groups).find(
              "  kernel: could not be read (Operation not permitted)\n") != std::string::npos);
    CHECK(memguard::explain_json(f, groups)["groups"][0]["kernel"]["read"] == false);
}
