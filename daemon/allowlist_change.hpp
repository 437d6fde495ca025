// What a new policy changes in who may connect, per guard: the networks it allows that the one
// applied before did not, and those it no longer allows. The journal says it after a reload.
#pragma once

#include "policy.hpp"

#include <map>
#include <string>
#include <vector>

namespace memguard {

struct AllowlistChange {
    std::string guard;                     // the guard's name
    std::vector<Network> allowed;          // in the new allowlist's order
    std::vector<Network> revoked;          // in the old allowlist's order
    std::map<Network, std::string> labels; // what the entries above were labelled, if anything

    // `allowed 203.0.113.0/24 (vendor), 10.9.1.2; revoked 10.9.1.0/24 (app) and 3 more`: at most
    // five networks a list, then how many more.
    [[nodiscard]] std::string describe() const;
};

// One change per guard whose allowlist differs (guards are told apart by name: a guard only in
// `after` allows all of its list, one only in `before` revokes all of its list); none when
// nothing changed.
std::vector<AllowlistChange> allowlist_changes(const Policy& before, const Policy& after);

} // namespace memguard
