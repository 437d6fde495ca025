// What our closing rules have stopped, read from the kernel's own rule counters. Internal to
// libfw/nft.
#pragma once

#include "backend.hpp"
#include "kernel.hpp"

#include <vector>

namespace memguard::nft {

// Per family and guarded protocol (the protocols the jumps send to the guard chain), the
// packets and bytes counted by the drop/reject rules of our tables' guard chains: the closing
// rules, the reverse-path drops, the fail-closed table's drops. A rule that matches a protocol
// counts for it; a catch-all one for the one guarded protocol that can still reach it (a
// catch-all that two protocols still reach, as in a table from before the closing rule was
// split, cannot be told apart and counts for neither).
std::vector<BlockedCount> blocked_counts(const Snapshot& snap);

} // namespace memguard::nft
