// `memguardd verify`: the running daemon does a verify-and-repair pass now and says what it
// found and did; without a daemon, the kernel is only compared with the config.
#pragma once

#include "cli.hpp"

namespace memguard {

// Exit status: 0 in sync, 1 repaired (or, without a daemon, differs), 2 error.
int run_verify(const Options& o);

} // namespace memguard
