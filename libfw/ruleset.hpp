// Policy → the rules we want in the kernel, per address family.
#pragma once

#include "policy.hpp"
#include "rule.hpp"

#include <vector>

namespace memguard {

struct Ruleset {
    Family family = Family::ipv4;
    std::vector<Rule> jumps; // at the top of INPUT, in this order
    std::vector<Rule> chain; // the whole MEMGUARD chain, in this order

    friend bool operator==(const Ruleset&, const Ruleset&) = default;
};

Ruleset build_ruleset(const Policy& policy, Family family);

} // namespace memguard
