// What a pass did to one family, in words for the admin who ran `apply --once`: the drift it
// found, told as what was done about it.
#pragma once

#include "diff.hpp"

#include <string>
#include <vector>

namespace memguard {

// "created chain MEMGUARD with 4 rules, added 2 rules to INPUT", "replaced rule 3 of MEMGUARD
// (was "...")": one phrase per difference repaired, missing rules counted per chain. For a
// family whose pass committed; "applied" when it committed with nothing to tell.
std::string describe_actions(const std::vector<ChainDrift>& drift);

} // namespace memguard
