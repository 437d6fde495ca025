// What memguardd takes as its own (ownership.hpp), and what it builds around what it may not.
#include "legacy/diff.hpp"
#include "legacy/ownership.hpp"
#include "legacy/ruleset.hpp"
#include "support.hpp"

#include "catch.hpp"

using namespace memguard;
using unit::kernel;
using unit::net;
using unit::specs;

namespace {

// Our rules for `policy`, in the kernel, with MEMGUARD reached by our jumps only.
KernelView ours(const Policy& policy, Family family = Family::ipv4) {
    const Ruleset want = build_ruleset(policy, family);
    KernelView v;
    v.family = family;
    v.chain_exists = true;
    for (const auto& r : want.chain) {
        v.chain.push_back(kernel(r));
    }
    for (const auto& r : want.jumps) {
        v.input.push_back(kernel(r));
    }
    v.chain_references = static_cast<std::uint32_t>(want.jumps.size());
    return v;
}

// -A MEMGUARD -p tcp -m tcp --dport 80 -j ACCEPT, somebody else's.
KernelRule foreign_port_80() {
    Rule r;
    r.proto = Protocol::tcp;
    r.dport = 80;
    return kernel(r);
}

Policy with_networks(std::size_t count) {
    Policy p = unit::seed_policy();
    p.guards.front().allow.clear();
    for (std::size_t i = 0; i < count; ++i) {
        p.guards.front().allow.push_back(net("10." + std::to_string(i) + ".0.0/16"));
    }
    return p;
}

bool mentions(const Claims& c, const std::string& text) {
    for (const auto& line : c.refused) {
        if (line.find(text) != std::string::npos) {
            return true;
        }
    }
    return false;
}

} // namespace

TEST_CASE("ownership: our chain, reached by our jumps only, is ours", "[ownership]") {
    const Claims c = claim(ours(unit::seed_policy()));
    CHECK(c.chain);
    CHECK(c.set_usable("memguard4"));
    CHECK(c.refused.empty());
}

TEST_CASE("ownership: no chain and no set claim nothing and refuse nothing", "[ownership]") {
    KernelView v;
    const Claims c = claim(v);
    CHECK(c.chain);
    CHECK(c.set_usable("memguard4"));
}

TEST_CASE("ownership: a chain another rule jumps to is not ours", "[ownership]") {
    KernelView v = ours(unit::seed_policy());
    ++v.chain_references; // -A FORWARD -j MEMGUARD
    const Claims c = claim(v);
    CHECK_FALSE(c.chain);
    CHECK(mentions(c, "chain MEMGUARD is not memguardd's"));
    CHECK(mentions(c, "1 rule(s) memguardd did not write jump to it"));
}

TEST_CASE("ownership: a chain of foreign rules that none of our jumps reaches is not ours",
          "[ownership]") {
    KernelView v;
    v.chain_exists = true;
    v.chain = {foreign_port_80()};
    CHECK_FALSE(claim(v).chain);
    // The same chain reached by one of our jumps is ours (a tamperer replaced our rules).
    v.input = {kernel(build_ruleset(unit::seed_policy(), Family::ipv4).jumps.front())};
    v.chain_references = 1;
    CHECK(claim(v).chain);
    // An empty, unreferenced chain holds nothing anybody could lose.
    KernelView empty;
    empty.chain_exists = true;
    CHECK(claim(empty).chain);
}

TEST_CASE("ownership: our set is the marked one, or one only our rules use", "[ownership]") {
    KernelView v = ours(with_networks(40));
    SetState set;
    set.usable = true;
    set.members_readable = true;
    set.references = 1;
    set.marked = true;
    v.sets[memguard::set_name(v.family)] = set;
    CHECK(claim(v).set_usable("memguard4"));

    v.sets.at(memguard::set_name(v.family)).marked =
        false; // made by a memguardd from before the mark, used by our rule only
    CHECK(claim(v).set_usable("memguard4"));

    v.sets.at(memguard::set_name(v.family)).references = 2; // and by somebody else's rule
    const Claims shared = claim(v);
    CHECK_FALSE(shared.set_usable("memguard4"));
    CHECK(mentions(shared, "ipset memguard4 is not memguardd's"));

    v.sets.at(memguard::set_name(v.family)).marked = true;
    v.sets.at(memguard::set_name(v.family)).staging_foreign = true; // somebody else's memguard4-new
    const Claims staging = claim(v);
    CHECK_FALSE(staging.set_usable("memguard4"));
    CHECK(mentions(staging, "ipset memguard4-new is not memguardd's"));
}

TEST_CASE("ownership: an unmarked set nobody uses is not ours", "[ownership]") {
    KernelView v = ours(unit::seed_policy());
    SetState set;
    set.usable = true;
    v.sets[memguard::set_name(v.family)] = set;
    CHECK_FALSE(claim(v).set_usable("memguard4"));
}

TEST_CASE("ruleset: without our set the list goes into one rule per network", "[ownership]") {
    const Policy p = with_networks(40);
    Claims no_set;
    no_set.foreign_sets = {"memguard4"};
    const Ruleset r = build_ruleset(p, Family::ipv4, no_set);
    CHECK(r.sets.empty());
    CHECK(std::ranges::count_if(r.chain, [](const Rule& rule) { return rule.src.has_value(); }) ==
          40);
}

TEST_CASE("ruleset: without our chain the ports close straight in INPUT", "[ownership]") {
    Claims no_chain;
    no_chain.chain = false;
    const Ruleset r = build_ruleset(unit::seed_policy(), Family::ipv4, no_chain);
    CHECK_FALSE(r.use_chain);
    CHECK(r.chain.empty());
    CHECK(specs(r.jumps) ==
          std::vector<std::string>{
              "-i lo -p tcp -m tcp --dport 11211 -m comment --comment memguard -j ACCEPT",
              "-p tcp -m tcp --dport 11211 -m comment --comment memguard -j DROP",
              "-i lo -p udp -m udp --dport 11211 -m comment --comment memguard -j ACCEPT",
              "-p udp -m udp --dport 11211 -m comment --comment memguard -j DROP",
          });
}

TEST_CASE("diff: a squatted chain is neither repaired nor removed; our jumps go", "[ownership]") {
    KernelView v = ours(unit::seed_policy());
    v.chain = {foreign_port_80()}; // somebody replaced MEMGUARD's rules and jumps to it too
    ++v.chain_references;
    const Claims claims = claim(v);
    REQUIRE_FALSE(claims.chain);
    const Comparison cmp = compare(build_ruleset(unit::seed_policy(), Family::ipv4, claims), v);
    CHECK_FALSE(cmp.plan.create_chain);
    CHECK(cmp.plan.erase_count == 0);
    CHECK(cmp.plan.insert.empty());
    CHECK(cmp.plan.input_deletes == std::vector<std::size_t>{1, 0}); // our two jumps
    CHECK(cmp.plan.jumps.size() == 4);                               // the inline rules

    const Plan removal = removal_plan(v);
    CHECK_FALSE(removal.delete_chain);
    CHECK(removal.input_deletes == std::vector<std::size_t>{1, 0});
}

TEST_CASE("diff: a set that is not ours is never dropped", "[ownership]") {
    KernelView v = ours(unit::seed_policy());
    SetState set;
    set.usable = true;
    set.references = 1; // somebody's SSH rule
    v.sets[memguard::set_name(v.family)] = set;
    const Comparison cmp = compare(build_ruleset(unit::seed_policy(), Family::ipv4, claim(v)), v);
    CHECK(cmp.plan.drop_sets.empty());
    CHECK(removal_plan(v).drop_sets.empty());
}
