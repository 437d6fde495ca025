// Several guards in one table: the exact rules planned, one set per guard named from the guard,
// labels as element comments, drift in labels, revocation per service, blocked counts.
#include "blocked.hpp"
#include "compare.hpp"
#include "guards.hpp"
#include "nft_backend.hpp"
#include "plan.hpp"

#include "catch.hpp"

using namespace memguard;
using namespace memguard::nft;

namespace {

Desired two_guards() {
    GuardSpec cache = test::guard("app-cache", {11211}, {Protocol::tcp, Protocol::udp},
                                  {"10.1.0.0/16", "10.2.0.5", "fd00:1::/64"}, {Protocol::udp});
    test::label(cache, "10.2.0.5", "batch host");
    test::label(cache, "fd00:1::/64", "v6 lab");
    const GuardSpec pages = test::guard("pages", {11212, 11213}, {Protocol::tcp}, {"10.3.0.0/24"});
    return test::desired_of({cache, pages});
}

std::vector<std::string> texts(const ChainModel& c) {
    std::vector<std::string> out;
    for (const auto& r : c.rules) {
        out.push_back(r.text);
    }
    return out;
}

std::string accept(int family, const char* proto, const std::string& port, const char* guard) {
    const std::string f = std::to_string(family);
    return "meta nfproto ipv" + f + " meta l4proto " + proto + " " + port + " " +
           (family == 4 ? "ip" : "ip6") + " saddr @allow" + f + "-" + guard +
           " accept comment \"memguard\"";
}

std::string jump(int family, const char* proto, int port) {
    const std::string f = std::to_string(family);
    return "meta nfproto ipv" + f + " meta l4proto " + proto + " th dport " + std::to_string(port) +
           " jump guard" + f + " comment \"memguard\"";
}

} // namespace

TEST_CASE("two guards: every service jumps, each guard's accepts match its own", "[nft][guards]") {
    const TableModel m = model_of(plan_table(kTableName, two_guards()));
    CHECK(texts(*m.chain("input")) ==
          std::vector<std::string>{"th dport < 11211 accept comment \"memguard\"",
                                   "th dport > 11213 accept comment \"memguard\"",
                                   jump(4, "tcp", 11211), jump(4, "udp", 11211),
                                   jump(4, "tcp", 11212), jump(4, "tcp", 11213),
                                   jump(6, "tcp", 11211), jump(6, "udp", 11211),
                                   jump(6, "tcp", 11212), jump(6, "tcp", 11213)});
    CHECK(m.chain("prerouting")->rules.size() == 10);
    CHECK(m.chain("forward")->rules.size() == 12); // below and above the ports, per protocol
    const std::string c = " comment \"memguard\"";
    // Each service's accept twice: by the packet's port, and by the port asked for before a
    // DNAT (the forward chain's connections).
    const std::string dnat = "ct status dnat ct original proto-dst ";
    CHECK(
        texts(*m.chain("guard4")) ==
        std::vector<std::string>{
            "iifname \"lo\" accept" + c,
            "meta l4proto udp th dport 11211 fib saddr . iif oif missing counter packets 0 "
            "bytes 0 drop" +
                c,
            "ct state established,related accept" + c,
            accept(4, "tcp", "th dport 11211", "app-cache"),
            accept(4, "tcp", dnat + "11211", "app-cache"),
            accept(4, "udp", "th dport 11211", "app-cache"),
            accept(4, "udp", dnat + "11211", "app-cache"),
            accept(4, "tcp", "th dport 11212", "pages"), accept(4, "tcp", dnat + "11212", "pages"),
            accept(4, "tcp", "th dport 11213", "pages"), accept(4, "tcp", dnat + "11213", "pages"),
            "meta l4proto tcp counter packets 0 bytes 0 drop" + c,
            "counter packets 0 bytes 0 drop" + c});
    CHECK(texts(*m.chain("guard6"))[7] == accept(6, "tcp", "th dport 11212", "pages"));
    std::vector<std::string> sets;
    for (const SetModel& s : m.sets) {
        sets.push_back(s.name);
    }
    CHECK(sets == std::vector<std::string>{"allow4-app-cache", "allow4-pages", "allow6-app-cache",
                                           "allow6-pages"});
    CHECK(range_networks(m.set("allow4-pages")->ranges) ==
          std::vector<Network>{*parse_network("10.3.0.0/24")});
    CHECK(m.set("allow6-pages")->ranges.empty());
    // The plan gives every set its own id, so each rule finds its set in the batch.
    const TablePlan plan = plan_table(kTableName, two_guards());
    for (std::size_t i = 0; i < plan.sets.size(); ++i) {
        CHECK(plan.sets[i].id == i + 1);
    }
}

TEST_CASE("one guard keeps today's layout whatever its name", "[nft][guards]") {
    const auto named = test::desired_of(
        {test::guard("app-cache", {11211}, {Protocol::tcp, Protocol::udp}, {"10.1.0.0/16"})});
    const TableModel m = model_of(plan_table(kTableName, named));
    const TableModel today = model_of(plan_table(kTableName, test::one_guard({"10.1.0.0/16"})));
    CHECK(m.set("allow4") != nullptr);
    CHECK(m.set("allow6") != nullptr);
    CHECK(compare_tables(today, m, Ownership{false}).empty());
    // A guard named "default" among several keeps the plain names.
    auto two = two_guards();
    two.ipv4.guards[0].name = two.ipv6.guards[0].name = "default";
    CHECK(model_of(plan_table(kTableName, two)).set("allow4") != nullptr);
}

TEST_CASE("the closing rule is split only when tcp and udp are both guarded", "[nft][guards]") {
    const auto tcp_only =
        test::desired_of({test::guard("default", {11211}, {Protocol::tcp}, {"10.0.0.0/8"})});
    CHECK(texts(*model_of(plan_table(kTableName, tcp_only)).chain("guard4")).back() ==
          "counter packets 0 bytes 0 drop comment \"memguard\"");
    CHECK(model_of(plan_table(kTableName, tcp_only)).chain("guard4")->rules.size() == 4);
    // tcp in one guard, udp in another: split.
    const auto apart = test::desired_of(
        {test::guard("a", {11211}, {Protocol::tcp}), test::guard("b", {11211}, {Protocol::udp})});
    const auto rules = texts(*model_of(plan_table(kTableName, apart)).chain("guard4"));
    CHECK(rules[rules.size() - 2] == "meta l4proto tcp counter packets 0 bytes 0 drop comment "
                                     "\"memguard\"");
}

TEST_CASE("labels go on the element whose range is exactly the network", "[nft][guards]") {
    const TableModel m = model_of(plan_table(kTableName, two_guards()));
    const SetModel* four = m.set("allow4-app-cache");
    REQUIRE(four != nullptr);
    const auto host = merged_ranges(Family::ipv4, std::vector{*parse_network("10.2.0.5")});
    CHECK(four->labels == RangeLabels{{host[0].first, "batch host"}});
    CHECK(m.set("allow6-app-cache")->labels.size() == 1);
    // Merged into a bigger range: nowhere to go. Joined with a neighbour into exactly the
    // labelled network: on it.
    GuardSpec g = test::guard(
        "default", {11211}, {Protocol::tcp},
        {"10.0.0.0/8", "10.2.0.5", "192.168.0.0/25", "192.168.0.128/25", "192.168.0.0/24"});
    test::label(g, "10.2.0.5", "lost");
    test::label(g, "192.168.0.0/24", "kept");
    const TableModel labelled = model_of(plan_table(kTableName, test::desired_of({g})));
    const SetModel* set = labelled.set("allow4");
    REQUIRE(set->ranges.size() == 2);
    CHECK(set->labels == RangeLabels{{set->ranges[1].first, "kept"}});
}

TEST_CASE("a label changed, missing or extra is drift", "[nft][guards]") {
    const TableModel want = model_of(plan_table(kTableName, two_guards()));
    CHECK(compare_tables(want, want, Ownership{false}).empty());
    TableModel found = want;
    found.set("allow4-app-cache")->labels.begin()->second = "old";
    auto d = compare_tables(want, found, Ownership{false});
    REQUIRE(d.size() == 1);
    CHECK(d[0].kind == "set_labels");
    CHECK(d[0].where == "allow4-app-cache");
    CHECK(d[0].family == Family::ipv4);
    CHECK(d[0].text ==
          "ipv4 set allow4-app-cache labels: 10.2.0.5 is \"old\", wanted \"batch host\"");
    found = want;
    found.set("allow4-app-cache")->labels.clear();
    CHECK(compare_tables(want, found, Ownership{false})[0].text ==
          "ipv4 set allow4-app-cache labels: 10.2.0.5 is \"\", wanted \"batch host\"");
    found = want;
    found.set("allow4-pages")->labels[found.set("allow4-pages")->ranges[0].first] = "x";
    CHECK(compare_tables(want, found, Ownership{false})[0].text ==
          "ipv4 set allow4-pages labels: 10.3.0.0/24 is \"x\", wanted no label");
    // No revocation from a label.
    CHECK(revoked_networks(want, found, Family::ipv4).empty());
}

TEST_CASE("a network loses a guard's ports: revoked, even if another guard has it",
          "[nft][guards]") {
    const TableModel before = model_of(plan_table(kTableName, two_guards()));
    auto moved = two_guards();
    // 10.3.0.0/24 moves from pages to app-cache: it lost 11212 and 11213.
    moved.ipv4.guards[1].allow.clear();
    moved.ipv4.guards[0].allow.push_back(*parse_network("10.3.0.0/24"));
    const TableModel after = model_of(plan_table(kTableName, moved));
    CHECK(revoked_networks(after, before, Family::ipv4) ==
          std::vector<Network>{*parse_network("10.3.0.0/24")});
    CHECK(revoked_networks(after, before, Family::ipv6).empty());
    // One guard (allow4 for every port) → two guards with the same networks for their ports:
    // the networks kept on the ports they still have, nothing lost there.
    const TableModel one = model_of(plan_table(kTableName, test::one_guard({"10.1.0.0/16"})));
    auto split = two_guards();
    split.ipv4.guards[0].allow = {*parse_network("10.1.0.0/16")};
    CHECK(revoked_networks(model_of(plan_table(kTableName, split)), one, Family::ipv4).empty());
    // A port no longer guarded is open to everybody: nothing revoked on it.
    auto fewer = two_guards();
    fewer.ipv4.guards.pop_back();
    fewer.ipv6.guards.pop_back();
    CHECK(revoked_networks(model_of(plan_table(kTableName, fewer)), before, Family::ipv4).empty());
}

TEST_CASE("blocked: the closing rules' counters by family and protocol", "[nft][guards]") {
    Snapshot snap;
    snap.main = model_of(plan_table(kTableName, two_guards()));
    auto& four = snap.main->chain("guard4")->rules;
    four[1].packets = 3; // reverse path (udp)
    four[1].bytes = 300;
    four[3].packets = 1000; // an accept: not counted
    four[11].packets = 5;   // tcp drop
    four[11].bytes = 500;
    four[12].packets = 7; // catch-all: only udp reaches it
    four[12].bytes = 700;
    snap.main->chain("guard6")->rules.back().packets = 2;
    CHECK(blocked_counts(snap) == std::vector<BlockedCount>{{Family::ipv4, Protocol::tcp, 5, 500},
                                                            {Family::ipv4, Protocol::udp, 10, 1000},
                                                            {Family::ipv6, Protocol::tcp, 0, 0},
                                                            {Family::ipv6, Protocol::udp, 2, 0}});
    // The fail-closed table's drops add to them.
    snap.closed = model_of(plan_table(kClosedTableName, fail_closed_desired(two_guards(), {})));
    snap.closed->chain("guard4")->rules.back().packets = 1;
    CHECK(blocked_counts(snap)[1].packets == 11);
    // tcp alone: the catch-all counts for tcp; a foreign table counts for nothing.
    Snapshot tcp;
    tcp.main = model_of(plan_table(
        kTableName, test::desired_of({test::guard("default", {11211}, {Protocol::tcp})})));
    tcp.main->chain("guard4")->rules.back().packets = 4;
    CHECK(blocked_counts(tcp) == std::vector<BlockedCount>{{Family::ipv4, Protocol::tcp, 4, 0},
                                                           {Family::ipv6, Protocol::tcp, 0, 0}});
    tcp.main->comment = "";
    CHECK(blocked_counts(tcp).empty());
}

TEST_CASE("a family's view lists every guard's set", "[nft][guards]") {
    Snapshot snap;
    snap.main = model_of(plan_table(kTableName, two_guards()));
    const FamilyView four = view_of(snap, Family::ipv4);
    REQUIRE(four.sets.size() == 2);
    CHECK(four.sets[0].name == "allow4-app-cache");
    CHECK(four.sets[0].members == 2);
    CHECK(four.sets[0].references == 4); // tcp and udp 11211, each by th dport and before DNAT
    CHECK(four.sets[1].references == 4); // 11212, 11213
    CHECK(four.sets[1].usable);
    CHECK(view_of(snap, Family::ipv6).sets[1].name == "allow6-pages");
}

TEST_CASE("of many drifted labels three are named and the rest is counted as …", "[nft][guards]") {
    GuardSpec g = test::guard("default", {11211}, {Protocol::tcp},
                              {"10.0.0.1", "10.0.0.3", "10.0.0.5", "10.0.0.7", "10.0.0.9"});
    for (const char* host : {"10.0.0.1", "10.0.0.3", "10.0.0.5", "10.0.0.7", "10.0.0.9"}) {
        test::label(g, host, "web");
    }
    const TableModel want = model_of(plan_table(kTableName, test::desired_of({g})));
    TableModel found = want;
    found.set("allow4")->labels.clear();
    const auto d = compare_tables(want, found, Ownership{false});
    REQUIRE(d.size() == 1);
    CHECK(d[0].text == "ipv4 set allow4 labels: 10.0.0.1 is \"\", wanted \"web\"; 10.0.0.3 is "
                       "\"\", wanted \"web\"; 10.0.0.5 is \"\", wanted \"web\"; …");
}
