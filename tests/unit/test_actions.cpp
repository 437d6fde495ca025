#include "support.hpp"

#include "legacy/actions.hpp"
#include "legacy/diff.hpp"
#include "legacy/ruleset.hpp"

#include <string>

using memguard::compare;
using memguard::describe_actions;
using memguard::Family;
using memguard::KernelView;
using memguard::Rule;
using unit::kernel;
using unit::net;

namespace {

memguard::Ruleset seed(Family family) {
    return memguard::build_ruleset(unit::seed_policy(), family);
}

KernelView in_sync(const memguard::Ruleset& want) {
    KernelView v;
    v.family = want.family;
    v.chain_exists = true;
    for (const auto& r : want.chain) {
        v.chain.push_back(kernel(r));
    }
    for (const auto& r : want.jumps) {
        v.input.push_back(kernel(r));
    }
    return v;
}

// What apply --once prints after the pass that found this drift.
std::string actions(const memguard::Ruleset& want, const KernelView& have) {
    return describe_actions(compare(want, have).drift);
}

Rule foreign_accept(std::uint16_t port) {
    Rule r;
    r.proto = memguard::Protocol::tcp;
    r.dport = port;
    return r;
}

} // namespace

TEST_CASE("actions: a first apply creates the chain and adds the jumps") {
    KernelView empty;
    empty.family = Family::ipv6;
    CHECK(actions(seed(Family::ipv6), empty) ==
          "created chain MEMGUARD with 4 rules, added 2 rules to INPUT");
}

TEST_CASE("actions: missing rules are counted per chain, replaced ones named with what was there") {
    const auto want = seed(Family::ipv4);
    auto view = in_sync(want);
    view.chain.erase(view.chain.begin());     // -D MEMGUARD 1
    view.input.erase(view.input.begin() + 1); // -D INPUT 2
    CHECK(actions(want, view) == "added 1 rule to MEMGUARD, added 1 rule to INPUT");

    view = in_sync(want);
    view.chain.clear();
    CHECK(actions(want, view) == "added 5 rules to MEMGUARD");

    view = in_sync(want);
    Rule edited = want.chain[2];
    edited.src = net("10.0.0.0/8");
    view.chain[2] = kernel(edited);
    CHECK(actions(want, view) == "replaced rule 3 of MEMGUARD (was \"-s 10.0.0.0/8 -m comment "
                                 "--comment memguard -j ACCEPT\")");
}

TEST_CASE("actions: unexpected and stale rules are deleted, shadowed jumps moved") {
    const auto want = seed(Family::ipv4);
    auto view = in_sync(want);
    view.chain.insert(view.chain.begin(), kernel(foreign_accept(11211)));
    CHECK(actions(want, view) ==
          "deleted unexpected rule 1 of MEMGUARD (\"-p tcp -m tcp --dport 11211 -j ACCEPT\")");

    view = in_sync(want);
    view.input.push_back(kernel(want.jumps[0]));
    CHECK(actions(want, view) == "deleted stale rule 3 of INPUT (\"-p tcp -m tcp --dport 11211 -m "
                                 "comment --comment memguard -j MEMGUARD\")");

    view = in_sync(want);
    view.input.insert(view.input.begin(), kernel(foreign_accept(11211)));
    CHECK(actions(want, view) == "moved rule 2 of INPUT to the top (it was below rule 1: -p tcp -m "
                                 "tcp --dport 11211 -j ACCEPT)");
}

TEST_CASE("actions: our ipset created, reloaded and destroyed") {
    memguard::ChainDrift created{
        Family::ipv4, memguard::DriftKind::set_members, "memguard4", 0, "20 networks", "missing"};
    memguard::ChainDrift reloaded = created;
    reloaded.actual = "1 missing (10.0.0.0/24…), 0 not in the allowlist";
    memguard::ChainDrift stale{Family::ipv4, memguard::DriftKind::set_stale, "memguard4", 0, "",
                               "stale"};
    CHECK(describe_actions({created}) == "created ipset memguard4 with 20 networks");
    CHECK(describe_actions({reloaded}) ==
          "reloaded ipset memguard4 with 20 networks (found: 1 missing "
          "(10.0.0.0/24…), 0 not in the allowlist)");
    CHECK(describe_actions({stale}) ==
          "destroyed ipset memguard4 (the allowlist no longer needs it)");
    CHECK(describe_actions({}) == "applied");
}
