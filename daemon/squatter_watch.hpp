// Whoever holds @memguardd/control, the abstract name earlier versions listened on, cannot stop
// this daemon, but an earlier CLI would believe it: the journal hears so once each time it
// changes, and status through the daemon's state.
#pragma once

#include "daemon_state.hpp"

namespace memguard {

// Looks who holds the name now; logs and records a change.
void check_squatter(DaemonState& state);

} // namespace memguard
