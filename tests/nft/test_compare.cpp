// Wanted vs found → drift in words.
#include "compare.hpp"
#include "guards.hpp"
#include "plan.hpp"

#include "catch.hpp"

#include <algorithm>

using namespace memguard;
using namespace memguard::nft;

namespace {

Desired sample() {
    return test::desired_of(
        {test::guard("default", {11211}, {Protocol::tcp},
                     {"10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12"}, {Protocol::tcp})});
}

const Ownership kUnowned{false};

std::vector<std::string> kinds(const std::vector<Drift>& drift) {
    std::vector<std::string> out;
    for (const auto& d : drift) {
        out.push_back(d.kind);
    }
    return out;
}

} // namespace

TEST_CASE("a table equal to the plan has no drift", "[nft][compare]") {
    const TableModel want = model_of(plan_table(kTableName, sample()));
    CHECK(compare_tables(want, want, kUnowned).empty());
}

TEST_CASE("missing, foreign and unowned tables", "[nft][compare]") {
    const TableModel want = model_of(plan_table(kTableName, sample()));
    CHECK(kinds(compare_tables(want, std::nullopt, kUnowned)) ==
          std::vector<std::string>{"table_missing"});
    TableModel foreign = want;
    foreign.comment = "";
    const auto d = compare_tables(want, foreign, kUnowned);
    REQUIRE(d.size() == 1);
    CHECK(d[0].kind == "table_not_owned");
    CHECK(d[0].text == "table inet memguard is not memguardd's (no memguard marker); left alone");
    TableModel orphan = want;
    orphan.flags = kTableFlagPersist;
    const auto orphaned = compare_tables(want, orphan, Ownership{true});
    REQUIRE(orphaned.size() == 1);
    CHECK(orphaned[0].kind == "table_orphaned");
    CHECK(orphaned[0].text == "table inet memguard is orphaned (its owner is gone), so anybody may "
                              "change it (flags 0x4)");
    CHECK(compare_tables(want, want, Ownership{true})[0].kind == "table_unowned");
    // Held by a live socket, ours or another process's (status runs in its own): in order.
    TableModel held = want;
    held.flags = kTableFlagOwner | kTableFlagPersist;
    held.owner = 42;
    CHECK(compare_tables(want, held, Ownership{true}).empty());
}

TEST_CASE("set members: missing and extra networks in words", "[nft][compare]") {
    const TableModel want = model_of(plan_table(kTableName, sample()));
    TableModel found = want;
    const std::vector<Network> had{*parse_network("10.0.0.0/8"), *parse_network("203.0.113.7")};
    found.set("allow4")->ranges = merged_ranges(Family::ipv4, had);
    const auto d = compare_tables(want, found, kUnowned);
    REQUIRE(d.size() == 1);
    CHECK(d[0].kind == "set_members");
    CHECK(d[0].where == "allow4");
    CHECK(d[0].family == Family::ipv4);
    CHECK(d[0].text ==
          "ipv4 set allow4: 2 missing (172.16.0.0/12, 192.168.0.0/16), 1 extra (203.0.113.7)");
    CHECK(revoked_networks(want, found, Family::ipv4) ==
          std::vector<Network>{*parse_network("203.0.113.7")});
    CHECK(revoked_networks(want, found, Family::ipv6).empty());
}

TEST_CASE("rules inserted, deleted or reordered are drift, counters and handles are not",
          "[nft][compare]") {
    const TableModel want = model_of(plan_table(kTableName, sample()));
    TableModel found = want;
    auto& rules = found.chain("guard4")->rules;
    rules.back().packets = 99;
    rules.back().handle = 7;
    CHECK(compare_tables(want, found, kUnowned).empty());

    RuleModel accept_all;
    accept_all.chain = "guard4";
    accept_all.key = "[ immediate reg 0 accept ]";
    accept_all.text = "accept";
    rules.insert(rules.begin(), accept_all);
    auto d = compare_tables(want, found, kUnowned);
    CHECK(kinds(d) == std::vector<std::string>{"rule_extra"});
    CHECK(d[0].text == "chain guard4 rule 1 is not ours: accept");

    rules.erase(rules.begin(), rules.begin() + 2); // the accept and our loopback rule
    d = compare_tables(want, found, kUnowned);
    CHECK(kinds(d) == std::vector<std::string>{"rule_missing"});
    CHECK(d[0].text == "chain guard4 lacks rule: iifname \"lo\" accept comment \"memguard\"");

    found = want;
    std::swap(found.chain("guard6")->rules[0], found.chain("guard6")->rules[1]);
    CHECK(kinds(compare_tables(want, found, kUnowned)) == std::vector<std::string>{"rule_order"});

    found = want;
    found.chains.pop_back();
    d = compare_tables(want, found, kUnowned);
    CHECK(kinds(d) == std::vector<std::string>{"chain_missing"});
    CHECK(d[0].family == Family::ipv6);
}

TEST_CASE("the other ports' accept heading each base chain is ours and compared",
          "[nft][compare]") {
    const TableModel want = model_of(plan_table(kTableName, sample()));
    for (const char* chain : {"input", "prerouting", "forward"}) {
        TableModel found = want;
        auto& rules = found.chain(chain)->rules;
        rules.erase(rules.begin());
        auto d = compare_tables(want, found, kUnowned);
        REQUIRE(kinds(d) == std::vector<std::string>{"rule_missing"});
        CHECK_FALSE(d[0].family); // both families pass by it
        CHECK(d[0].where == chain);
        CHECK(d[0].text.find("!= 11211 accept") != std::string::npos);
    }
    // Moved below the jumps: still there, but no longer first.
    TableModel found = want;
    auto& input = found.chain("input")->rules;
    std::rotate(input.begin(), input.begin() + 1, input.end());
    CHECK(kinds(compare_tables(want, found, kUnowned)) == std::vector<std::string>{"rule_order"});
}

TEST_CASE("the prerouting chain, its jumps and the reverse-path rules are compared too",
          "[nft][compare]") {
    const TableModel want = model_of(plan_table(kTableName, sample()));
    TableModel found = want;
    found.chain("prerouting")->rules.erase(found.chain("prerouting")->rules.begin() + 1);
    auto d = compare_tables(want, found, kUnowned);
    REQUIRE(kinds(d) == std::vector<std::string>{"rule_missing"});
    CHECK(d[0].family == Family::ipv4);
    CHECK(d[0].where == "prerouting");
    CHECK(d[0].text == "chain prerouting lacks rule: meta nfproto ipv4 meta l4proto tcp th dport "
                       "11211 fib daddr type local jump guard4 comment \"memguard\"");

    found = want;
    std::erase_if(found.chains, [](const ChainModel& c) { return c.name == "prerouting"; });
    d = compare_tables(want, found, kUnowned);
    REQUIRE(kinds(d) == std::vector<std::string>{"chain_missing"});
    CHECK_FALSE(d[0].family);

    found = want;
    found.chain("prerouting")->priority = -10;
    CHECK(kinds(compare_tables(want, found, kUnowned)) ==
          std::vector<std::string>{"chain_changed"});

    // The reverse-path rule gone, or made loose (no iif): drift in guard6.
    found = want;
    auto& six = found.chain("guard6")->rules;
    REQUIRE(six[1].text.find("fib saddr . iif oif missing") != std::string::npos);
    six.erase(six.begin() + 1);
    d = compare_tables(want, found, kUnowned);
    REQUIRE(kinds(d) == std::vector<std::string>{"rule_missing"});
    CHECK(d[0].family == Family::ipv6);
    found = want;
    found.chain("guard6")->rules[1].key += " loose";
    CHECK(kinds(compare_tables(want, found, kUnowned)) ==
          std::vector<std::string>{"rule_missing", "rule_extra"});
    // Desired without the check: the rule found is extra.
    Desired without = sample();
    without.ipv6.guards[0].reverse_path.clear();
    CHECK(kinds(compare_tables(model_of(plan_table(kTableName, without)), want, kUnowned)) ==
          std::vector<std::string>{"rule_extra"});
}
