#include "support.hpp"

#include "legacy/diff.hpp"
#include "legacy/kernel_view.hpp"
#include "legacy/ruleset.hpp"

#include <algorithm>
#include <string>
#include <vector>

using memguard::ChainDrift;
using memguard::compare;
using memguard::Comparison;
using memguard::DriftKind;
using memguard::Family;
using memguard::KernelRule;
using memguard::KernelView;
using memguard::Plan;
using memguard::Policy;
using memguard::Protocol;
using memguard::removal_plan;
using memguard::Rule;
using memguard::Ruleset;
using memguard::Verdict;
using unit::net;
using unit::target_of;
using Positions = std::vector<std::size_t>;

namespace {

using unit::kernel;

std::vector<KernelRule> kernel(const std::vector<Rule>& rules) {
    std::vector<KernelRule> out;
    for (const auto& r : rules) {
        out.push_back(kernel(r));
    }
    return out;
}

// Somebody else's rule that memguardd can express, e.g. "-p tcp -m tcp --dport 22 -j ACCEPT".
KernelRule foreign_accept(Family family, std::uint16_t port, Protocol proto = Protocol::tcp) {
    Rule r;
    r.family = family;
    r.proto = proto;
    r.dport = port;
    r.verdict = Verdict::accept;
    return kernel(r);
}

// Somebody else's rule memguardd cannot express (docker's, say).
KernelRule foreign_opaque(const std::string& target) {
    KernelRule k;
    k.target = target;
    return k;
}

KernelView in_sync(const Ruleset& want, std::vector<KernelRule> input_after = {}) {
    KernelView v;
    v.family = want.family;
    v.chain_exists = true;
    v.chain = kernel(want.chain);
    v.input = kernel(want.jumps);
    v.input.insert(v.input.end(), input_after.begin(), input_after.end());
    return v;
}

std::string describe_all(const Comparison& c) {
    std::string out;
    for (const auto& d : c.drift) {
        out += "  " + d.describe() + "\n";
    }
    return out;
}

std::vector<DriftKind> kinds(const Comparison& c) {
    std::vector<DriftKind> out;
    for (const auto& d : c.drift) {
        out.push_back(d.kind);
    }
    return out;
}

Ruleset seed(Family family) {
    return memguard::build_ruleset(unit::seed_policy(), family);
}

void check_chain_untouched(const Plan& plan) {
    CHECK_FALSE(plan.create_chain);
    CHECK(plan.erase_count == 0);
    CHECK(plan.insert.empty());
    CHECK_FALSE(plan.delete_chain);
}

void check_input_untouched(const Plan& plan) {
    CHECK(plan.input_deletes.empty());
    CHECK(plan.jumps.empty());
}

} // namespace

namespace Catch {
template <> struct StringMaker<DriftKind> {
    static std::string convert(DriftKind k) { return std::string(memguard::to_string(k)); }
};
} // namespace Catch

TEST_CASE("diff: in sync means no drift and an empty plan") {
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        const auto want = seed(family);
        // Foreign rules below our jumps (the admin's ssh rule, docker) are fine.
        const auto view = in_sync(want, {foreign_accept(family, 22), foreign_opaque("DOCKER-USER"),
                                         foreign_opaque("LOG")});
        const auto c = compare(want, view);
        INFO(describe_all(c));
        CHECK(c.drift.empty());
        CHECK(c.plan.empty());
    }
    Policy reject = unit::seed_policy();
    reject.action = memguard::Action::reject;
    reject.guards.front().ports = {11211, 11212};
    const auto want = memguard::build_ruleset(reject, Family::ipv4);
    const auto c = compare(want, in_sync(want));
    CHECK(c.drift.empty());
    CHECK(c.plan.empty());
}

TEST_CASE("diff: a missing chain is created with all its rules and the jumps") {
    const auto want = seed(Family::ipv4);
    KernelView view;
    view.family = Family::ipv4;
    view.chain_exists = false;
    view.input = {foreign_accept(Family::ipv4, 22)};
    const auto c = compare(want, view);
    INFO(describe_all(c));
    REQUIRE(c.drift.size() == 3);
    CHECK(c.drift[0].kind == DriftKind::chain_missing);
    CHECK(c.drift[0].chain == "MEMGUARD");
    CHECK(c.drift[0].family == Family::ipv4);
    CHECK(c.drift[1].kind == DriftKind::jump_missing);
    CHECK(c.drift[1].position == 1);
    CHECK(c.drift[1].expected == memguard::to_string(want.jumps[0]));
    CHECK(c.drift[2].kind == DriftKind::jump_missing);
    CHECK(c.drift[2].position == 2);
    CHECK(c.plan.create_chain);
    CHECK(c.plan.erase_count == 0);
    CHECK(c.plan.insert == want.chain);
    CHECK(c.plan.input_deletes.empty()); // the ssh rule stays
    CHECK(c.plan.jumps == want.jumps);
    CHECK_FALSE(c.plan.delete_chain);
}

TEST_CASE("diff: a flushed chain is refilled - the jumps are left alone") {
    const auto want = seed(Family::ipv6);
    auto view = in_sync(want);
    view.chain.clear();
    const auto c = compare(want, view);
    INFO(describe_all(c));
    REQUIRE(c.drift.size() == want.chain.size());
    for (std::size_t i = 0; i < c.drift.size(); ++i) {
        CHECK(c.drift[i].kind == DriftKind::rule_missing);
        CHECK(c.drift[i].family == Family::ipv6);
        CHECK(c.drift[i].chain == "MEMGUARD");
        CHECK(c.drift[i].position == i + 1);
        CHECK(c.drift[i].expected == memguard::to_string(want.chain[i]));
        CHECK(c.drift[i].actual.empty());
    }
    CHECK_FALSE(c.plan.create_chain);
    CHECK(c.plan.erase_from == 0);
    CHECK(c.plan.erase_count == 0);
    CHECK(c.plan.insert == want.chain);
    check_input_untouched(c.plan);
}

TEST_CASE("diff: one deleted rule is re-inserted at its place - nothing else is touched") {
    const auto want = seed(Family::ipv4);
    REQUIRE(want.chain.size() == 5);
    const auto gone =
        GENERATE(std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{4});
    INFO("deleted rule " << gone + 1);
    auto view = in_sync(want);
    view.chain.erase(view.chain.begin() + static_cast<std::ptrdiff_t>(gone));
    const auto c = compare(want, view);
    INFO(describe_all(c));
    REQUIRE(c.drift.size() == 1);
    CHECK(c.drift[0].kind == DriftKind::rule_missing);
    CHECK(c.drift[0].chain == "MEMGUARD");
    CHECK(c.drift[0].position == gone + 1);
    CHECK(c.drift[0].expected == memguard::to_string(want.chain[gone]));
    CHECK(c.plan.erase_from == gone);
    CHECK(c.plan.erase_count == 0);
    CHECK(c.plan.insert == std::vector<Rule>{want.chain[gone]});
    CHECK_FALSE(c.plan.create_chain);
    check_input_untouched(c.plan);
}

TEST_CASE("diff: a replaced rule is reported as changed and swapped back") {
    const auto want = seed(Family::ipv4);
    auto view = in_sync(want);
    Rule edited = want.chain[2];
    edited.src = net("10.0.0.0/8"); // iptables -R MEMGUARD 3 -s 10.0.0.0/8 ...
    view.chain[2] = kernel(edited);
    const auto c = compare(want, view);
    INFO(describe_all(c));
    REQUIRE(c.drift.size() == 1);
    const ChainDrift& d = c.drift[0];
    CHECK(d.kind == DriftKind::rule_changed);
    CHECK(d.position == 3);
    CHECK(d.expected == "-s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT");
    CHECK(d.actual == "-s 10.0.0.0/8 -m comment --comment memguard -j ACCEPT");
    CHECK(c.plan.erase_from == 2);
    CHECK(c.plan.erase_count == 1);
    CHECK(c.plan.insert == std::vector<Rule>{want.chain[2]});
    check_input_untouched(c.plan);

    SECTION("replaced by a rule memguardd cannot express") {
        view.chain[2] = foreign_opaque("LOG");
        const auto c2 = compare(want, view);
        INFO(describe_all(c2));
        REQUIRE(c2.drift.size() == 1);
        CHECK(c2.drift[0].kind == DriftKind::rule_changed);
        CHECK(c2.drift[0].position == 3);
        CHECK(c2.drift[0].actual.find("-j LOG") != std::string::npos);
        CHECK(c2.plan.erase_from == 2);
        CHECK(c2.plan.erase_count == 1);
        CHECK(c2.plan.insert == std::vector<Rule>{want.chain[2]});
    }
}

TEST_CASE("diff: a foreign rule inserted into our chain is erased - only it") {
    const auto want = seed(Family::ipv4);
    const auto at =
        GENERATE(std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{4});
    INFO("foreign rule inserted at position " << at + 1);
    auto view = in_sync(want);
    const auto intruder = foreign_accept(Family::ipv4, 11211);
    view.chain.insert(view.chain.begin() + static_cast<std::ptrdiff_t>(at), intruder);
    const auto c = compare(want, view);
    INFO(describe_all(c));
    REQUIRE(c.drift.size() == 1);
    CHECK(c.drift[0].kind == DriftKind::rule_extra);
    CHECK(c.drift[0].position == at + 1);
    CHECK(c.drift[0].expected.empty());
    CHECK(c.drift[0].actual == "-p tcp -m tcp --dport 11211 -j ACCEPT");
    CHECK(c.plan.erase_from == at);
    CHECK(c.plan.erase_count == 1);
    CHECK(c.plan.insert.empty());
    CHECK_FALSE(c.plan.create_chain);
    check_input_untouched(c.plan);
}

TEST_CASE("diff: a rule of ours the policy no longer asks for is stale - not foreign") {
    // The allowlist lost 10.0.0.0/8: its accept rule, ours by its comment, is left over.
    Policy old = unit::seed_policy();
    old.guards.front().allow.push_back(net("10.0.0.0/8"));
    const auto before = memguard::build_ruleset(old, Family::ipv4);
    const auto want = seed(Family::ipv4);
    auto view = in_sync(want);
    view.chain = kernel(before.chain);
    const auto c = compare(want, view);
    INFO(describe_all(c));
    REQUIRE(c.drift.size() == 1);
    CHECK(c.drift[0].kind == DriftKind::rule_stale);
    CHECK(c.drift[0].position == 4);
    CHECK(c.drift[0].actual == "-s 10.0.0.0/8 -m comment --comment memguard -j ACCEPT");
    CHECK(c.plan.erase_from == 3);
    CHECK(c.plan.erase_count == 1);
    CHECK(c.plan.insert.empty());
    check_input_untouched(c.plan);
}

TEST_CASE("diff: a deleted jump is put back - foreign INPUT rules stay") {
    const auto want = seed(Family::ipv4);
    auto view = in_sync(want, {foreign_accept(Family::ipv4, 22)});
    view.input.erase(view.input.begin() + 1); // the udp jump
    const auto c = compare(want, view);
    INFO(describe_all(c));
    REQUIRE(c.drift.size() == 1);
    CHECK(c.drift[0].kind == DriftKind::jump_missing);
    CHECK(c.drift[0].chain == "INPUT");
    CHECK(c.drift[0].position == 2);
    CHECK(c.drift[0].expected == memguard::to_string(want.jumps[1]));
    check_chain_untouched(c.plan);
    // Our remaining jump (position 0) is rewritten with the full set; the ssh rule (now at
    // position 1) is not deleted.
    CHECK(c.plan.input_deletes == Positions{0});
    CHECK(c.plan.jumps == want.jumps);

    SECTION("all jumps deleted") {
        view.input.erase(view.input.begin());
        const auto c2 = compare(want, view);
        INFO(describe_all(c2));
        CHECK(kinds(c2) ==
              std::vector<DriftKind>{DriftKind::jump_missing, DriftKind::jump_missing});
        CHECK(c2.plan.input_deletes.empty());
        CHECK(c2.plan.jumps == want.jumps);
    }
}

TEST_CASE("diff: a foreign rule above our jump shadows it") {
    const auto want = seed(Family::ipv4);
    KernelView view = in_sync(want, {foreign_opaque("DOCKER-USER")});
    // iptables -I INPUT -p tcp --dport 11211 -j ACCEPT: it takes the tcp jump's packets, never
    // the udp jump's.
    view.input.insert(view.input.begin(), foreign_accept(Family::ipv4, 11211));
    const auto c = compare(want, view);
    INFO(describe_all(c));
    REQUIRE(c.drift.size() == 1);
    CHECK(c.drift[0].kind == DriftKind::jump_shadowed);
    CHECK(c.drift[0].chain == "INPUT");
    CHECK(c.drift[0].position == 2);
    CHECK(c.drift[0].expected == memguard::to_string(want.jumps[0]));
    CHECK(c.drift[0].actual.find("below rule 1") != std::string::npos);
    CHECK(c.drift[0].actual.find("-p tcp -m tcp --dport 11211 -j ACCEPT") != std::string::npos);
    // Ours (positions 1 and 2) out, descending; re-inserted at the top; the foreign rules at
    // 0 and 3 are not in the plan.
    CHECK(c.plan.input_deletes == Positions{2, 1});
    CHECK(c.plan.jumps == want.jumps);
    check_chain_untouched(c.plan);

    SECTION("a foreign rule between our two jumps shadows only the second") {
        KernelView between = in_sync(want);
        between.input.insert(between.input.begin() + 1, foreign_opaque("LOG"));
        const auto c2 = compare(want, between);
        INFO(describe_all(c2));
        REQUIRE(c2.drift.size() == 1);
        CHECK(c2.drift[0].kind == DriftKind::jump_shadowed);
        CHECK(c2.drift[0].position == 3);
        CHECK(c2.drift[0].expected == memguard::to_string(want.jumps[1]));
        CHECK(c2.drift[0].actual.find("below rule 2") != std::string::npos);
        CHECK(c2.plan.input_deletes == Positions{2, 0});
        CHECK(c2.plan.jumps == want.jumps);
    }
    SECTION("a rule for any protocol and port shadows both") {
        Rule any;
        any.src = net("10.0.0.0/8"); // iptables -I INPUT -s 10.0.0.0/8 -j ACCEPT
        KernelView wide = in_sync(want);
        wide.input.insert(wide.input.begin(), kernel(any));
        const auto c2 = compare(want, wide);
        INFO(describe_all(c2));
        CHECK(kinds(c2) ==
              std::vector<DriftKind>{DriftKind::jump_shadowed, DriftKind::jump_shadowed});
        CHECK(c2.plan.input_deletes == Positions{2, 1});
    }
}

TEST_CASE("diff: a rule that cannot take a jump's packets does not shadow it") {
    const auto want = seed(Family::ipv4);
    struct Case {
        const char* what;
        std::size_t at; // where in INPUT it is inserted
        KernelRule rule;
    };
    const Case cases[] = {
        {"a tcp accept of our port between the tcp and the udp jump", 1,
         foreign_accept(Family::ipv4, 11211)},
        {"an accept of another port above both jumps (the admin's ssh rule)", 0,
         foreign_accept(Family::ipv4, 22)},
        {"a udp accept of another port above both jumps", 0,
         foreign_accept(Family::ipv4, 53, Protocol::udp)},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        KernelView view = in_sync(want);
        view.input.insert(view.input.begin() + static_cast<std::ptrdiff_t>(c.at), c.rule);
        const auto comparison = compare(want, view);
        INFO(describe_all(comparison));
        CHECK(comparison.drift.empty());
        CHECK(comparison.plan.empty());
    }
}

TEST_CASE("diff: a udp accept of our port above both jumps shadows only the udp jump") {
    const auto want = seed(Family::ipv4);
    KernelView view = in_sync(want);
    view.input.insert(view.input.begin(), foreign_accept(Family::ipv4, 11211, Protocol::udp));
    const auto c = compare(want, view);
    INFO(describe_all(c));
    REQUIRE(c.drift.size() == 1);
    CHECK(c.drift[0].kind == DriftKind::jump_shadowed);
    CHECK(c.drift[0].position == 3);
    CHECK(c.drift[0].expected == memguard::to_string(want.jumps[1]));
    CHECK(c.plan.input_deletes == Positions{2, 1});
    CHECK(c.plan.jumps == want.jumps);
}

TEST_CASE("diff: a jump for a port no longer in the policy is stale") {
    Policy old = unit::seed_policy();
    old.guards.front().ports = {11211, 11212};
    const auto before = memguard::build_ruleset(old, Family::ipv4);
    const auto want = seed(Family::ipv4);
    // INPUT as the old policy left it: tcp 11211, tcp 11212, udp 11211, udp 11212, then ssh.
    const auto view = in_sync(want, {});
    KernelView stale = view;
    stale.input = kernel(before.jumps);
    stale.input.push_back(foreign_accept(Family::ipv4, 22));
    const auto c = compare(want, stale);
    INFO(describe_all(c));
    REQUIRE(c.drift.size() == 2);
    CHECK(c.drift[0].kind == DriftKind::jump_stale);
    CHECK(c.drift[0].position == 2);
    CHECK(c.drift[0].actual ==
          "-p tcp -m tcp --dport 11212 -m comment --comment memguard -j MEMGUARD");
    CHECK(c.drift[0].expected.empty());
    CHECK(c.drift[1].kind == DriftKind::jump_stale);
    CHECK(c.drift[1].position == 4);
    CHECK(c.drift[1].actual ==
          "-p udp -m udp --dport 11212 -m comment --comment memguard -j MEMGUARD");
    CHECK(c.plan.input_deletes == Positions{3, 2, 1, 0});
    CHECK(c.plan.jumps == want.jumps);
    check_chain_untouched(c.plan);
}

TEST_CASE("diff: a stale jump below foreign rules is still found") {
    const auto want = seed(Family::ipv4);
    auto view = in_sync(want, {foreign_accept(Family::ipv4, 22)});
    Rule old = want.jumps[0];
    old.dport = 9999;
    view.input.push_back(kernel(old)); // position 4
    const auto c = compare(want, view);
    INFO(describe_all(c));
    REQUIRE(c.drift.size() == 1);
    CHECK(c.drift[0].kind == DriftKind::jump_stale);
    CHECK(c.drift[0].position == 4);
    CHECK(c.plan.input_deletes == Positions{3, 1, 0});
    CHECK(c.plan.jumps == want.jumps);
}

TEST_CASE("diff: a duplicate jump is reported and removed") {
    const auto want = seed(Family::ipv4);
    auto view = in_sync(want);
    view.input.push_back(kernel(want.jumps[0])); // tcp, udp, tcp
    const auto c = compare(want, view);
    INFO(describe_all(c));
    REQUIRE(c.drift.size() == 1);
    CHECK(c.drift[0].kind == DriftKind::jump_stale);
    CHECK(c.drift[0].position == 3);
    CHECK(c.drift[0].actual == memguard::to_string(want.jumps[0]));
    CHECK(c.plan.input_deletes == Positions{2, 1, 0});
    CHECK(c.plan.jumps == want.jumps);
}

TEST_CASE("diff: an edited rule of ours in INPUT that we cannot read is stale") {
    const auto want = seed(Family::ipv4);
    auto view = in_sync(want);
    KernelRule odd = foreign_opaque("MEMGUARD");
    odd.comment = "memguard"; // ours by its comment, but not a rule we write
    view.input.push_back(odd);
    const auto c = compare(want, view);
    INFO(describe_all(c));
    REQUIRE(c.drift.size() == 1);
    CHECK(c.drift[0].kind == DriftKind::jump_stale);
    CHECK(c.drift[0].position == 3);
    CHECK(c.drift[0].actual == "(an edited rule of memguardd's, -j MEMGUARD)");
    CHECK(c.plan.input_deletes == Positions{2, 1, 0});
}

TEST_CASE("diff: a repair plan never comes without the drift that explains it") {
    // Our two jumps swapped (udp above tcp): the plan rewrites them, so the drift must say why,
    // or the log shows a repair with nothing found.
    const auto want = seed(Family::ipv4);
    auto view = in_sync(want);
    std::swap(view.input[0], view.input[1]);
    const auto c = compare(want, view);
    INFO(describe_all(c));
    CHECK(c.plan.empty() == c.drift.empty());
    if (!c.plan.empty()) {
        CHECK_FALSE(c.drift.empty());
    }
}

TEST_CASE("diff: removal deletes only what is ours - descending - then the chain") {
    const auto want = seed(Family::ipv4);
    KernelView view = in_sync(want);
    // ssh, tcp jump, docker, udp jump, a stale jump of ours, LOG
    view.input = {foreign_accept(Family::ipv4, 22), kernel(want.jumps[0]),
                  foreign_opaque("DOCKER-USER"), kernel(want.jumps[1])};
    Rule old = want.jumps[0];
    old.dport = 9999;
    view.input.push_back(kernel(old));
    view.input.push_back(foreign_opaque("LOG"));
    // A rule that looks like ours but carries another comment is not ours.
    Rule lookalike = want.jumps[0];
    lookalike.comment = "memguard:old";
    view.input.push_back(kernel(lookalike));

    const Plan plan = removal_plan(view);
    CHECK(plan.input_deletes == Positions{4, 3, 1});
    CHECK(plan.delete_chain);
    CHECK_FALSE(plan.create_chain);
    CHECK(plan.erase_count == 0);
    CHECK(plan.insert.empty());
    CHECK(plan.jumps.empty());
    CHECK(std::is_sorted(plan.input_deletes.rbegin(), plan.input_deletes.rend()));

    view.chain_exists = false;
    view.chain.clear();
    view.input = {foreign_accept(Family::ipv4, 22)};
    const Plan nothing = removal_plan(view);
    CHECK(nothing.empty());
}

TEST_CASE("diff: describe() names family - chain and position") {
    const auto want = seed(Family::ipv4);

    KernelView missing;
    missing.family = Family::ipv6;
    const auto c6 = compare(seed(Family::ipv6), missing);
    REQUIRE_FALSE(c6.drift.empty());
    CHECK(c6.drift[0].describe() == "ipv6 MEMGUARD: chain missing");
    REQUIRE(c6.drift.size() == 3);
    CHECK(c6.drift[2].describe() ==
          "ipv6 INPUT rule 2: missing: \"-p udp -m udp --dport 11211 -m comment --comment "
          "memguard -j MEMGUARD\"");

    auto changed = in_sync(want);
    Rule edited = want.chain[2];
    edited.src = net("10.0.0.0/8");
    changed.chain[2] = kernel(edited);
    const auto cc = compare(want, changed);
    REQUIRE(cc.drift.size() == 1);
    CHECK(cc.drift[0].describe() ==
          "ipv4 MEMGUARD rule 3: changed: want \"-s 192.168.1.0/24 -m comment --comment memguard "
          "-j ACCEPT\", found \"-s 10.0.0.0/8 -m comment --comment memguard -j ACCEPT\"");

    auto flushed = in_sync(want);
    flushed.chain.pop_back();
    const auto cm = compare(want, flushed);
    REQUIRE(cm.drift.size() == 1);
    CHECK(cm.drift[0].describe() ==
          "ipv4 MEMGUARD rule 5: missing: \"-m comment --comment memguard -j DROP\"");

    auto extra = in_sync(want);
    extra.chain.insert(extra.chain.begin() + 1, foreign_opaque("LOG"));
    const auto ce = compare(want, extra);
    REQUIRE(ce.drift.size() == 1);
    CHECK(ce.drift[0].describe() == "ipv4 MEMGUARD rule 2: unexpected rule in MEMGUARD: \"(a rule "
                                    "memguardd does not write, -j LOG)\"");

    auto stale_rule = in_sync(want);
    Rule dropped = want.chain[2];
    dropped.src = net("10.0.0.0/8"); // a network the allowlist no longer holds
    stale_rule.chain.insert(stale_rule.chain.begin() + 3, kernel(dropped));
    const auto cr = compare(want, stale_rule);
    REQUIRE(cr.drift.size() == 1);
    CHECK(cr.drift[0].describe() == "ipv4 MEMGUARD rule 4: stale rule of ours: \"-s 10.0.0.0/8 -m "
                                    "comment --comment memguard -j ACCEPT\"");

    auto shadowed = in_sync(want);
    shadowed.input.insert(shadowed.input.begin(), foreign_accept(Family::ipv4, 11211));
    const auto cs = compare(want, shadowed);
    REQUIRE(cs.drift.size() == 1);
    CHECK(cs.drift[0].describe() ==
          "ipv4 INPUT rule 2: \"-p tcp -m tcp --dport 11211 -m comment --comment memguard -j "
          "MEMGUARD\" is below rule 1: -p tcp -m tcp --dport 11211 -j ACCEPT");

    auto stale = in_sync(want);
    stale.input.push_back(kernel(want.jumps[1]));
    const auto ct = compare(want, stale);
    REQUIRE(ct.drift.size() == 1);
    CHECK(ct.drift[0].describe() ==
          "ipv4 INPUT rule 3: stale: \"-p udp -m udp --dport 11211 -m comment --comment memguard "
          "-j MEMGUARD\"");
}

TEST_CASE("diff: drift kind names") {
    CHECK(memguard::to_string(DriftKind::chain_missing) == "chain_missing");
    CHECK(memguard::to_string(DriftKind::rule_changed) == "rule_changed");
    CHECK(memguard::to_string(DriftKind::rule_missing) == "rule_missing");
    CHECK(memguard::to_string(DriftKind::rule_extra) == "rule_extra");
    CHECK(memguard::to_string(DriftKind::rule_stale) == "rule_stale");
    CHECK(memguard::to_string(DriftKind::jump_missing) == "jump_missing");
    CHECK(memguard::to_string(DriftKind::jump_shadowed) == "jump_shadowed");
    CHECK(memguard::to_string(DriftKind::jump_stale) == "jump_stale");
}
