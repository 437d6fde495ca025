// `memguardd allow NETWORK --for DURATION` and `memguardd revoke NETWORK`: asked of the running
// daemon over the control socket, which keeps temporary entries (temporary_keeper.hpp).
#pragma once

#include "cli.hpp"

namespace memguard {

// Prints what the daemon did, or why not; 0 when it did, 1 otherwise (no daemon running too).
int ask_temporary(const Options& o);

} // namespace memguard
