// What a valid config says that its author probably did not mean: allow entries that let
// everybody in or match nothing, and an allowlist that lets no other machine in.
#pragma once

#include "policy.hpp"

#include <string>
#include <vector>

namespace memguard {

// One line per finding, naming the entry by its JSON path (with several guards, under
// "guards[i]."; entries a fragment added are counted after the main file's), saying what it
// means and what to do, e.g. `allow[0]: 0.0.0.0/0 lets every IPv4 host in: port 11211 is not
// guarded for IPv4; list the networks that need memcached`. parse_config keeps the file's order in
// policy.allow and refuses duplicates rather than dropping them, so allow[i] is policy.allow[i].
// Empty when there is nothing to say.
std::vector<std::string> config_warnings(const Policy& policy);

// Whether the allowlist is the one config/memguard.json ships: the private ranges.
bool is_shipped_default(const Policy& policy);

// True when the allowed networks of `family` together hold every address of it (0.0.0.0/0, or
// 0.0.0.0/1 with 128.0.0.0/1, ...): a guard with that allowlist does not guard that family.
bool lets_everyone_in(const std::vector<Network>& allow, Family family);

} // namespace memguard
