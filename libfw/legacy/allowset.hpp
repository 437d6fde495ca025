// Our ipset per family (set_name: memguard4, memguard6): read it, load it whole, destroy it.
// What goes in it, and when, is decided by ruleset.hpp and diff.hpp; this only does it.
#pragma once

#include "kernel_view.hpp"

#include <optional>
#include <vector>

namespace memguard {

// The set as the kernel holds it, or nullopt when there is no set of that name.
std::optional<SetState> read_set(Family family);

// Makes the set hold exactly `members`. A usable set gets a new one filled beside it and
// swapped in (IPSET_CMD_SWAP), so rules matching on it see the old members, then the new, never
// a half-filled set. A set of the wrong type or family is destroyed and made again, which fails
// (EBUSY) while somebody else's rule matches on it.
void load_set(Family family, const std::vector<Network>& members,
              const std::optional<SetState>& current);

// Destroys the set; fails (EBUSY) while a rule matches on it.
void drop_set(Family family);

} // namespace memguard
