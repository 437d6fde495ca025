// Our ipsets per family and guard (set_name: memguard4, memguard6, memguard4-<guard>, ...): read
// one, load it whole, destroy it.
// What goes in it, and when, is decided by ruleset.hpp and diff.hpp; this only does it.
#pragma once

#include "kernel_view.hpp"

#include <optional>
#include <string>
#include <vector>

namespace memguard {

// Where a new set is filled before it is swapped in: memguard4-new / memguard6-new for the
// default set, "<name>~" for a guard's (a guard's set name plus "-new" could pass ipset's 31
// characters, and no guard name holds a '~').
std::string staging_name(Family family, const std::string& name);

// The set `name` as the kernel holds it, or nullopt when there is no set of that name.
std::optional<SetState> read_set(Family family, const std::string& name);

// Makes the set hold exactly `members`. A usable set gets a new one filled beside it and
// swapped in (IPSET_CMD_SWAP), so rules matching on it see the old members, then the new, never
// a half-filled set. A set of the wrong type or family is destroyed and made again, which fails
// (EBUSY) while somebody else's rule matches on it.
void load_set(Family family, const std::string& name, const std::vector<Network>& members,
              const std::optional<SetState>& current);

// Destroys the set; fails (EBUSY) while a rule matches on it.
void drop_set(const std::string& name);

} // namespace memguard
