// The mangle table's part of the legacy backend: the ruleset (DNAT jumps in FORWARD, our chain
// ending in DROP, reverse-path drops in PREROUTING), its comparison, removal, ownership and words.
#include "support.hpp"

#include "legacy/actions.hpp"
#include "legacy/diff.hpp"
#include "legacy/kernel_view.hpp"
#include "legacy/ownership.hpp"
#include "legacy/ruleset.hpp"

#include <string>
#include <vector>

using memguard::build_ruleset;
using memguard::Claims;
using memguard::DriftKind;
using memguard::Family;
using memguard::KernelRule;
using memguard::KernelView;
using memguard::MangleView;
using memguard::Policy;
using memguard::Rule;
using memguard::Ruleset;
using unit::kernel;
using unit::net;
using unit::specs;
using Specs = std::vector<std::string>;

namespace {

const std::string tcp_dnat = "-p tcp -m conntrack --ctstate DNAT --ctorigdstport 11211 --ctdir "
                             "ORIGINAL -m comment --comment memguard -j MEMGUARD";
const std::string udp_dnat = "-p udp -m conntrack --ctstate DNAT --ctorigdstport 11211 --ctdir "
                             "ORIGINAL -m comment --comment memguard -j MEMGUARD";
// IPv4 names every kind of address delivered here in one rule; IPv6 needs two (no BROADCAST,
// and MULTICAST only alone).
const std::string udp_rp = "-p udp -m udp --dport 11211 -m addrtype --dst-type "
                           "LOCAL,BROADCAST,ANYCAST,MULTICAST -m rpfilter --invert -m comment "
                           "--comment memguard -j DROP";
const std::string udp_rp6_unicast = "-p udp -m udp --dport 11211 -m addrtype --dst-type "
                                    "LOCAL,ANYCAST -m rpfilter --invert -m comment --comment "
                                    "memguard -j DROP";
const std::string udp_rp6_multicast = "-p udp -m udp --dport 11211 -m addrtype --dst-type "
                                      "MULTICAST -m rpfilter --invert -m comment --comment "
                                      "memguard -j DROP";
const std::string lo_accept = "-i lo -m comment --comment memguard -j ACCEPT";
const std::string established =
    "-m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment memguard -j ACCEPT";
const std::string tcp_drop = "-p tcp -m comment --comment memguard -j DROP";
const std::string drop = "-m comment --comment memguard -j DROP";

std::vector<KernelRule> kernel(const std::vector<Rule>& rules) {
    std::vector<KernelRule> out;
    out.reserve(rules.size());
    for (const auto& r : rules) {
        out.push_back(unit::kernel(r));
    }
    return out;
}

// The kernel after a clean apply of `want`, both tables.
KernelView in_sync(const Ruleset& want) {
    KernelView v;
    v.family = want.family;
    v.chain_exists = want.use_chain;
    v.chain = kernel(want.chain);
    v.input = kernel(want.jumps);
    v.chain_references = static_cast<std::uint32_t>(memguard::our_jumps(v));
    MangleView m;
    m.chain_exists = want.mangle.use_chain;
    m.chain = kernel(want.mangle.chain);
    m.forward = kernel(want.mangle.jumps);
    m.prerouting = kernel(want.mangle.prerouting);
    v.mangle = m;
    v.mangle->chain_references = static_cast<std::uint32_t>(memguard::our_mangle_jumps(v));
    return v;
}

KernelRule foreign_opaque(const std::string& target) {
    KernelRule k;
    k.target = target;
    return k;
}

} // namespace

TEST_CASE("mangle ruleset: DNAT jumps, the chain ending in DROP, reverse-path drops") {
    const Ruleset r = build_ruleset(unit::seed_policy(), Family::ipv4);
    CHECK(specs(r.mangle.jumps) == Specs{tcp_dnat, udp_dnat});
    CHECK(specs(r.mangle.prerouting) == Specs{udp_rp});
    CHECK(specs(build_ruleset(unit::seed_policy(), Family::ipv6).mangle.prerouting) ==
          Specs{udp_rp6_unicast, udp_rp6_multicast});
    CHECK(specs(r.mangle.chain) ==
          Specs{lo_accept, established, "-s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT",
                tcp_drop, drop});
    CHECK(r.mangle.use_chain);
    // The filter table's part is what it was before there was a mangle part.
    CHECK(specs(r.jumps).size() == 2);
    CHECK(specs(r.chain).back() == drop);
}

TEST_CASE("mangle ruleset: action reject drops on the DNAT path (REJECT is filter's only)") {
    Policy p = unit::seed_policy();
    p.action = memguard::Action::reject;
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        const Ruleset r = build_ruleset(p, family);
        CHECK(specs(r.chain).back().find("REJECT") != std::string::npos);
        REQUIRE_FALSE(r.mangle.chain.empty());
        CHECK(to_string(r.mangle.chain.back()) == drop);
        for (const auto& rule : r.mangle.chain) {
            CHECK(rule.verdict != memguard::Verdict::reject);
        }
    }
}

TEST_CASE("mangle ruleset: reverse_path names the protocols, fail-closed has none") {
    Policy p = unit::seed_policy();
    p.guards.front().reverse_path = {memguard::Protocol::tcp, memguard::Protocol::udp};
    p.guards.front().ports = {11211, 11212};
    CHECK(build_ruleset(p, Family::ipv4).mangle.prerouting.size() == 4);
    const Ruleset r = build_ruleset(p, Family::ipv6);
    CHECK(r.mangle.prerouting.size() == 8); // unicast and multicast for each
    CHECK(r.mangle.jumps.size() == 4);
    p.guards.front().reverse_path.clear();
    CHECK(build_ruleset(p, Family::ipv6).mangle.prerouting.empty());
    const Ruleset closed = build_ruleset(memguard::fail_closed_policy(), Family::ipv4);
    CHECK(closed.mangle.prerouting.empty());
    CHECK(specs(closed.mangle.chain) == Specs{lo_accept, tcp_drop, drop});
}

TEST_CASE("mangle ruleset: a mangle MEMGUARD that is not ours gives DROP rules in FORWARD") {
    Claims claims;
    claims.mangle_chain = false;
    const Ruleset r =
        build_ruleset(memguard::desired_family(unit::seed_policy(), Family::ipv4), claims);
    CHECK_FALSE(r.mangle.use_chain);
    CHECK(r.mangle.chain.empty());
    CHECK(specs(r.mangle.jumps) ==
          Specs{"-p tcp -m conntrack --ctstate DNAT --ctorigdstport 11211 --ctdir ORIGINAL -m "
                "comment --comment memguard -j DROP",
                "-p udp -m conntrack --ctstate DNAT --ctorigdstport 11211 --ctdir ORIGINAL -m "
                "comment --comment memguard -j DROP"});
    CHECK(r.use_chain); // filter's is still ours
}

TEST_CASE("mangle ruleset: a long allowlist puts the set in both chains") {
    Policy p = unit::seed_policy();
    p.guards.front().allow.clear();
    for (int i = 0; i < 20; ++i) {
        p.guards.front().allow.push_back(net("10.0." + std::to_string(i) + ".0/24"));
    }
    const Ruleset r = build_ruleset(p, Family::ipv4);
    REQUIRE_FALSE(r.sets.empty());
    CHECK(r.sets.begin()->second.size() == 20);
    const std::string in_set =
        "-m set --match-set memguard4 src -m comment --comment memguard -j ACCEPT";
    CHECK(specs(r.chain)[2] == in_set);
    CHECK(specs(r.mangle.chain)[2] == in_set);
    // With filter's chain not ours, the set is still wanted for mangle's.
    Claims claims;
    claims.chain = false;
    const Ruleset m = build_ruleset(memguard::desired_family(p, Family::ipv4), claims);
    CHECK_FALSE(m.sets.empty());
}

TEST_CASE("mangle diff: a clean apply compares in sync; a view without mangle skips it") {
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        const Ruleset want = build_ruleset(unit::seed_policy(), family);
        auto c = memguard::compare(want, in_sync(want));
        CHECK(c.drift.empty());
        CHECK(c.plan.empty());
        KernelView fresh;
        fresh.family = family;
        fresh.mangle = MangleView{};
        c = memguard::compare(want, fresh);
        CHECK(c.plan.mangle.create_chain);
        CHECK(specs(c.plan.mangle.insert) == specs(want.mangle.chain));
        CHECK(specs(c.plan.mangle.forward) == specs(want.mangle.jumps));
        CHECK(specs(c.plan.mangle.prerouting) == specs(want.mangle.prerouting));
        CHECK(memguard::describe_actions(c.drift) ==
              std::string("created chain MEMGUARD with ") + (family == Family::ipv4 ? "5" : "4") +
                  " rules, added 2 rules to INPUT, created chain mangle MEMGUARD with " +
                  (family == Family::ipv4 ? "5" : "4") +
                  " rules, added 2 rules to mangle FORWARD, added " +
                  (family == Family::ipv4 ? "1 rule" : "2 rules") + " to mangle PREROUTING");
        KernelView filter_only = in_sync(want);
        filter_only.mangle.reset();
        CHECK(memguard::compare(want, filter_only).plan.empty());
    }
}

TEST_CASE("mangle diff: tampering is drift, and the repair puts our rules back on top") {
    const Ruleset want = build_ruleset(unit::seed_policy(), Family::ipv4);
    KernelView v = in_sync(want);
    SECTION("the FORWARD jump deleted") {
        v.mangle->forward.erase(v.mangle->forward.begin());
        v.mangle->chain_references = 1;
        const auto c = memguard::compare(want, v);
        REQUIRE(c.drift.size() == 1);
        CHECK(c.drift[0].kind == DriftKind::jump_missing);
        CHECK(c.drift[0].chain == "mangle FORWARD");
        CHECK(c.plan.mangle.forward_deletes == std::vector<std::size_t>{0});
        CHECK(specs(c.plan.mangle.forward) == Specs{tcp_dnat, udp_dnat});
        CHECK(c.plan.table_empty()); // filter untouched
    }
    SECTION("a foreign rule above the jumps") {
        v.mangle->forward.insert(v.mangle->forward.begin(), foreign_opaque("MARK"));
        const auto c = memguard::compare(want, v);
        REQUIRE_FALSE(c.drift.empty());
        CHECK(c.drift[0].kind == DriftKind::jump_shadowed);
        CHECK(c.plan.mangle.forward_deletes == std::vector<std::size_t>{2, 1});
        CHECK(specs(c.plan.mangle.forward) == Specs{tcp_dnat, udp_dnat});
        CHECK(memguard::describe_actions(c.drift).find("moved rule 2 of mangle FORWARD") == 0);
    }
    SECTION("the PREROUTING drop deleted") {
        v.mangle->prerouting.clear();
        const auto c = memguard::compare(want, v);
        REQUIRE(c.drift.size() == 1);
        CHECK(c.drift[0].chain == "mangle PREROUTING");
        CHECK(memguard::describe_actions(c.drift) == "added 1 rule to mangle PREROUTING");
    }
    SECTION("the LOCAL-only drop of older versions is replaced") {
        Rule old = want.mangle.prerouting.front();
        old.dst_types = memguard::addr_type::local;
        v.mangle->prerouting = {unit::kernel(old)};
        const auto c = memguard::compare(want, v);
        REQUIRE(c.drift.size() == 2);
        CHECK(c.drift[0].kind == DriftKind::jump_missing);
        CHECK(c.drift[1].kind == DriftKind::jump_stale);
        CHECK(c.drift[1].actual.find("--dst-type LOCAL -m rpfilter") != std::string::npos);
        CHECK(c.plan.mangle.prerouting_deletes == std::vector<std::size_t>{0});
        CHECK(specs(c.plan.mangle.prerouting) == Specs{udp_rp});
    }
    SECTION("mangle MEMGUARD flushed") {
        v.mangle->chain.clear();
        const auto c = memguard::compare(want, v);
        CHECK(c.drift.size() == 5);
        CHECK(c.plan.mangle.erase_count == 0);
        CHECK(specs(c.plan.mangle.insert) == specs(want.mangle.chain));
        CHECK(memguard::describe_actions(c.drift) == "added 5 rules to mangle MEMGUARD");
    }
}

TEST_CASE("mangle ownership: each table's MEMGUARD is judged on its own") {
    const Ruleset want = build_ruleset(unit::seed_policy(), Family::ipv4);
    KernelView v = in_sync(want);
    CHECK(memguard::claim(v).mangle_chain);
    // somebody else's jump to mangle MEMGUARD
    v.mangle->chain_references += 1;
    const Claims c = memguard::claim(v);
    CHECK(c.chain);
    CHECK_FALSE(c.mangle_chain);
    REQUIRE(c.refused.size() == 1);
    CHECK(c.refused[0].find("ipv4 mangle chain MEMGUARD is not memguardd's") == 0);
    CHECK(c.refused[0].find("iptables-legacy-save -t mangle") != std::string::npos);
    // and removal leaves it, taking only our rules
    const auto plan = memguard::removal_plan(v);
    CHECK_FALSE(plan.mangle.delete_chain);
    CHECK(plan.mangle.forward_deletes == std::vector<std::size_t>{1, 0});
    CHECK(plan.mangle.prerouting_deletes == std::vector<std::size_t>{0});
    CHECK(plan.delete_chain);
}

TEST_CASE("mangle ownership: our set, matched on by both chains, is ours") {
    Policy p = unit::seed_policy();
    p.guards.front().allow.clear();
    for (int i = 0; i < 20; ++i) {
        p.guards.front().allow.push_back(net("10.1." + std::to_string(i) + ".0/24"));
    }
    const Ruleset want = build_ruleset(p, Family::ipv4);
    KernelView v = in_sync(want);
    memguard::SetState set;
    set.usable = true;
    set.members_readable = true;
    set.references = 2; // filter's rule and mangle's
    set.members = want.sets.begin()->second;
    v.sets[memguard::set_name(v.family)] = set;
    CHECK(memguard::our_set_rules(v, "memguard4") == 2);
    CHECK(memguard::claim(v).set_usable("memguard4"));
    CHECK(memguard::compare(want, v).plan.empty());
    CHECK(memguard::removal_plan(v).drop_sets == std::vector<std::string>{"memguard4"});
}
