// The seam's shapes from the keeper's: Report per family, FamilyView per family.
#include "guards.hpp"
#include "nft_backend.hpp"
#include "plan.hpp"

#include "catch.hpp"

using namespace memguard;

TEST_CASE("a pass result becomes one family report each, shared outcome", "[nft][backend]") {
    nft::PassResult r;
    r.drift = {{std::nullopt, "table_missing", "memguard", "table inet memguard is missing"},
               {Family::ipv6, "set_members", "allow6", "ipv6 set allow6: 1 missing (fd00::/8)"}};
    r.revoked = {*parse_network("203.0.113.7"), *parse_network("2001:db8::1")};
    r.committed = true;
    r.attempts = 2;
    r.actions = "rebuilt table inet memguard";
    const Report report = report_of(r);
    REQUIRE(report.families.size() == 2);
    const FamilyReport& four = report.families[0];
    const FamilyReport& six = report.families[1];
    CHECK(four.family == Family::ipv4);
    CHECK(four.drift.size() == 1);
    CHECK(six.drift.size() == 2);
    CHECK(six.drift[1].kind == "set_members");
    CHECK(six.drift[1].family == Family::ipv6);
    CHECK(four.revoked == std::vector<Network>{*parse_network("203.0.113.7")});
    CHECK(six.revoked == std::vector<Network>{*parse_network("2001:db8::1")});
    CHECK(four.committed);
    CHECK(six.attempts == 2);
    CHECK(report.changed());
    CHECK_FALSE(report.failed());
}

TEST_CASE("a family's view: its jumps, its guard chain, its set", "[nft][backend]") {
    const Desired d = test::one_guard({"10.0.0.0/8", "192.168.0.0/16"});
    nft::Snapshot snap;
    snap.main = nft::model_of(nft::plan_table(nft::kTableName, d));
    const FamilyView four = view_of(snap, Family::ipv4);
    CHECK(four.has_ours());
    REQUIRE(four.chains.size() == 4);
    CHECK(four.chains[0].name == "input");
    REQUIRE(four.chains[0].rules.size() == 3); // the other ports' accept, the IPv4 jumps
    CHECK(four.chains[0].rules[0].position == 1);
    CHECK(four.chains[0].rules[0].text.find("th dport != 11211 accept") != std::string::npos);
    CHECK(four.chains[0].rules[2].position == 3);
    CHECK(four.chains[0].rules[2].text.find("udp th dport 11211 jump guard4") != std::string::npos);
    CHECK(four.chains[1].name == "prerouting");
    REQUIRE(four.chains[1].rules.size() == 3);
    CHECK(four.chains[1].rules[1].text.find("fib daddr type local jump guard4") !=
          std::string::npos);
    CHECK(four.chains[2].name == "forward");
    REQUIRE(four.chains[2].rules.size() == 4); // per protocol in forward
    CHECK(four.chains[2].rules[2].text.find("ct original proto-dst 11211 jump guard4") !=
          std::string::npos);
    CHECK(four.chains[3].name == "guard4");
    CHECK(four.chains[3].rules.size() == 5); // lo, established, allow, tcp drop, drop
    CHECK(four.chains[3].rules[0].ours);
    REQUIRE(four.sets.size() == 1);
    CHECK(four.sets[0].name == "allow4");
    CHECK(four.sets[0].members == 2);
    CHECK(four.sets[0].references == 1);
    CHECK(four.sets[0].usable);
    const FamilyView six = view_of(snap, Family::ipv6);
    CHECK(six.chains[0].rules[0].position == 1);
    CHECK(six.chains[0].rules[1].position == 4);
    CHECK(six.chains[1].rules[1].position == 4);
    CHECK(six.sets[0].members == 0);
    CHECK_FALSE(view_of(nft::Snapshot{}, Family::ipv4).has_ours());
}
