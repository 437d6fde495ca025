// A family's allowlist past set_threshold networks: one rule matching on our ipset, whose
// members the diff compares and the plan loads, swaps or drops; and the xt_set match bytes.
#include "support.hpp"

#include "legacy/diff.hpp"
#include "legacy/iptc/entry.hpp"
#include "legacy/kernel_view.hpp"
#include "legacy/ruleset.hpp"

#include <algorithm>
#include <string>
#include <vector>

using memguard::build_ruleset;
using memguard::compare;
using memguard::DriftKind;
using memguard::Family;
using memguard::KernelRule;
using memguard::KernelView;
using memguard::Network;
using memguard::Policy;
using memguard::Rule;
using memguard::Ruleset;
using memguard::set_name;
using memguard::set_threshold;
using memguard::SetState;
using memguard::Verdict;
using memguard::iptc::SetNames;
using unit::net;

namespace {

// n IPv4 /24s, 10.0.0.0/24 upwards, and `v6` IPv6 /48s.
Policy policy_with(std::size_t n, std::size_t v6 = 0) {
    Policy p;
    for (std::size_t i = 0; i < n; ++i) {
        p.guards.front().allow.push_back(
            net("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24"));
    }
    for (std::size_t i = 0; i < v6; ++i) {
        char text[32];
        std::snprintf(text, sizeof text, "fd00:%zx::/48", i + 1);
        p.guards.front().allow.push_back(net(text));
    }
    return p;
}

// The kernel as memguardd leaves it for `want`: its rules, and its set holding `members`.
KernelView in_kernel(const Ruleset& want, const std::vector<Network>& members) {
    KernelView v;
    v.family = want.family;
    v.chain_exists = true;
    for (const auto* rules : {&want.chain, &want.jumps}) {
        for (const auto& r : *rules) {
            KernelRule k;
            k.rule = r;
            k.comment = r.comment;
            k.target = unit::target_of(r);
            (rules == &want.chain ? v.chain : v.input).push_back(k);
        }
    }
    SetState s;
    s.usable = true;
    s.members_readable = true;
    s.references = 1;
    s.members = members;
    v.sets[memguard::set_name(v.family)] = s;
    return v;
}

// A stand-in for ipset's name ↔ index lookup: memguard4 is 3, memguard6 is 4, zoo is 9.
SetNames fake_sets() {
    static const std::vector<std::pair<std::string, std::uint16_t>> table{
        {"memguard4", 3}, {"memguard6", 4}, {"zoo", 9}};
    return {
        [](const std::string& name) -> std::optional<std::uint16_t> {
            for (const auto& [n, i] : table) {
                if (n == name) {
                    return i;
                }
            }
            return std::nullopt;
        },
        [](std::uint16_t index) -> std::optional<std::string> {
            for (const auto& [n, i] : table) {
                if (i == index) {
                    return n;
                }
            }
            return std::nullopt;
        },
    };
}

const Rule& set_rule(const Ruleset& r) {
    const auto it = std::ranges::find_if(r.chain, [](const Rule& x) { return !x.src_set.empty(); });
    REQUIRE(it != r.chain.end());
    return *it;
}

} // namespace

TEST_CASE("set: up to the threshold every network keeps its own rule") {
    const auto r = build_ruleset(policy_with(set_threshold), Family::ipv4);
    CHECK(r.sets.empty());
    CHECK(std::ranges::count_if(r.chain, [](const Rule& x) { return x.src.has_value(); }) ==
          static_cast<long>(set_threshold));
}

TEST_CASE("set: past the threshold one rule matches on the family's set, which holds them all") {
    const auto policy = policy_with(set_threshold + 1, 3);
    const auto v4 = build_ruleset(policy, Family::ipv4);
    REQUIRE_FALSE(v4.sets.empty());
    CHECK(v4.sets.begin()->second.size() == set_threshold + 1);
    CHECK(std::ranges::is_sorted(v4.sets.begin()->second));
    CHECK(std::ranges::none_of(v4.chain, [](const Rule& x) { return x.src.has_value(); }));
    CHECK(memguard::to_string(set_rule(v4)) ==
          "-m set --match-set memguard4 src -m comment --comment memguard -j ACCEPT");
    // The other family is counted on its own: 3 networks stay rules.
    const auto v6 = build_ruleset(policy, Family::ipv6);
    CHECK(v6.sets.empty());
    CHECK(std::ranges::count_if(v6.chain, [](const Rule& x) { return x.src.has_value(); }) == 3);
}

TEST_CASE("set: a list that allows everybody (a /0) needs no set") {
    auto policy = policy_with(set_threshold + 5);
    policy.guards.front().allow.push_back(net("0.0.0.0/0"));
    CHECK(build_ruleset(policy, Family::ipv4).sets.empty());
}

TEST_CASE("set: in sync when the set holds exactly the members") {
    const auto want = build_ruleset(policy_with(40), Family::ipv4);
    const auto cmp = compare(want, in_kernel(want, want.sets.begin()->second));
    CHECK(cmp.drift.empty());
    CHECK(cmp.plan.empty());
}

TEST_CASE("set: a member missing or added by somebody is drift, repaired by loading the set") {
    const auto want = build_ruleset(policy_with(40), Family::ipv4);
    auto members = want.sets.begin()->second;
    const Network gone = members[7];
    members.erase(members.begin() + 7);
    members.push_back(net("192.0.2.0/24"));
    std::ranges::sort(members);
    const auto cmp = compare(want, in_kernel(want, members));
    REQUIRE(cmp.drift.size() == 1);
    CHECK(cmp.drift[0].kind == DriftKind::set_members);
    CHECK(cmp.drift[0].describe() == "ipv4 ipset memguard4: want 40 networks, found 1 missing (" +
                                         gone.to_string() +
                                         "…), 1 not in the allowlist (192.0.2.0/24…)");
    REQUIRE_FALSE(cmp.plan.load_sets.empty());
    CHECK(cmp.plan.load_sets.at("memguard4") == want.sets.begin()->second);
    CHECK(cmp.plan.table_empty()); // the rules are right: no table commit
    // The network somebody slipped in loses its connections.
    CHECK(cmp.revoked == std::vector<Network>{net("192.0.2.0/24")});
}

TEST_CASE("set: missing, of the wrong type, or unreadable: loaded whole") {
    const auto want = build_ruleset(policy_with(20), Family::ipv4);
    auto view = in_kernel(want, want.sets.begin()->second);
    SECTION("missing") {
        view.sets.clear();
        CHECK(compare(want, view).drift.at(0).actual == "missing");
    }
    SECTION("wrong type") {
        view.sets.at(memguard::set_name(view.family)).usable = false;
        CHECK(compare(want, view).drift.at(0).actual == "not a hash:net set of this family");
    }
    SECTION("ranges or nomatch entries") {
        view.sets.at(memguard::set_name(view.family)).members_readable = false;
        CHECK(compare(want, view).drift.at(0).actual == "holds ranges or nomatch entries");
    }
    CHECK_FALSE(compare(want, view).plan.load_sets.empty());
}

TEST_CASE("set: a shorter list revokes the members that went, and only those") {
    const auto before = build_ruleset(policy_with(40), Family::ipv4);
    auto policy = policy_with(40);
    policy.guards.front().allow.erase(policy.guards.front().allow.begin() + 5); // 10.0.5.0/24 goes
    policy.guards.front().allow.push_back(
        net("10.0.0.0/16")); // and 10.0.0.0/24 .. /24s stay covered
    const auto after = build_ruleset(policy, Family::ipv4);
    const auto cmp = compare(after, in_kernel(before, before.sets.begin()->second));
    CHECK_FALSE(cmp.plan.load_sets.empty());
    CHECK(cmp.revoked.empty()); // 10.0.5.0/24 is inside 10.0.0.0/16
    auto narrower = policy_with(40);
    narrower.guards.front().allow.erase(narrower.guards.front().allow.begin() + 5);
    const auto cmp2 = compare(build_ruleset(narrower, Family::ipv4),
                              in_kernel(before, before.sets.begin()->second));
    CHECK(cmp2.revoked == std::vector<Network>{net("10.0.5.0/24")});
}

TEST_CASE("set: falling below the threshold swaps the set rule for -s rules and drops the set") {
    const auto before = build_ruleset(policy_with(30), Family::ipv4);
    const auto after = build_ruleset(policy_with(3), Family::ipv4);
    const auto cmp = compare(after, in_kernel(before, before.sets.begin()->second));
    CHECK(cmp.plan.drop_sets == std::vector<std::string>{"memguard4"});
    CHECK(cmp.plan.load_sets.empty());
    CHECK(cmp.plan.insert.size() == 3);
    CHECK(cmp.revoked.size() == 27);
}

TEST_CASE("set: a set somebody else's rule also matches on is not dropped") {
    const auto before = build_ruleset(policy_with(30), Family::ipv4);
    auto view = in_kernel(before, before.sets.begin()->second);
    view.sets.at(memguard::set_name(view.family)).references = 2; // ours and a foreign one
    const auto cmp = compare(build_ruleset(policy_with(3), Family::ipv4), view);
    CHECK(cmp.plan.drop_sets.empty());
}

TEST_CASE("set: going past the threshold revokes nobody who stays") {
    const auto before = build_ruleset(policy_with(3), Family::ipv4);
    KernelView view = in_kernel(before, {});
    view.sets.clear();
    const auto cmp = compare(build_ruleset(policy_with(30), Family::ipv4), view);
    CHECK_FALSE(cmp.plan.load_sets.empty());
    CHECK(cmp.plan.erase_count == 3);
    CHECK(cmp.revoked.empty());
}

TEST_CASE("set: removal drops our set after the rules") {
    const auto want = build_ruleset(policy_with(30), Family::ipv4);
    CHECK(memguard::removal_plan(in_kernel(want, want.sets.begin()->second)).drop_sets ==
          std::vector<std::string>{"memguard4"});
    KernelView none = in_kernel(want, want.sets.begin()->second);
    none.sets.clear();
    CHECK(memguard::removal_plan(none).drop_sets.empty());
}

TEST_CASE("set: the set rule encodes as iptables 1.8.9 does and decodes back") {
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        const auto want = build_ruleset(policy_with(30, 30), family);
        const Rule& rule = set_rule(want);
        const auto bytes = memguard::iptc::encode_entry(rule, fake_sets());
        const auto back =
            memguard::iptc::decode_entry(family, bytes.bytes(), "ACCEPT", fake_sets());
        REQUIRE(back.rule.has_value());
        CHECK(*back.rule == rule);
        // Without a way to name the set, or when it names another set, it is not ours.
        CHECK_FALSE(memguard::iptc::decode_entry(family, bytes.bytes(), "ACCEPT").rule);
        const SetNames swapped{fake_sets().index_of,
                               [](std::uint16_t) { return std::optional<std::string>("zoo"); }};
        CHECK_FALSE(memguard::iptc::decode_entry(family, bytes.bytes(), "ACCEPT", swapped).rule);
    }
}

TEST_CASE("set: a rule on a set that does not exist cannot be encoded") {
    Rule r;
    r.src_set = "memguard4";
    CHECK_THROWS_AS(memguard::iptc::encode_entry(r), memguard::iptc::EntryError);
    const SetNames none{[](const std::string&) { return std::optional<std::uint16_t>(); }, {}};
    try {
        (void)memguard::iptc::encode_entry(r, none);
        FAIL("encoded a rule on a set that does not exist");
    } catch (const memguard::iptc::EntryError& e) {
        CHECK(std::string(e.what()).find("ipset memguard4 does not exist") != std::string::npos);
    }
}
