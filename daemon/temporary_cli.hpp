// `memguardd allow NETWORK --for DURATION` and `memguardd revoke NETWORK`: asked of the running
// daemon over the control socket, which keeps temporary entries (temporary_keeper.hpp).
#pragma once

#include "cli.hpp"
#include "temporary.hpp"

#include <string>

namespace memguard {

// Prints what the daemon did, or why not; 0 when it did, 1 otherwise (no daemon running too).
int ask_temporary(const Options& o);

// The temporary entries of the daemon running here, when it reads the config at `config_path`;
// none when no daemon runs or it reads another config.
TemporaryList daemon_temporary(const std::string& config_path);

} // namespace memguard
