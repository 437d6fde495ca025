// `memguardd allow NETWORK --for DURATION` and `memguardd revoke NETWORK`: asked of the running
// daemon over the control socket, which keeps temporary entries (temporary_keeper.hpp).
#pragma once

#include "cli.hpp"
#include "temporary.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace memguard {

// Prints what the daemon did, or why not; 0 when it did, 1 otherwise (no daemon running too).
int ask_temporary(const Options& o);

// The temporary entries of the daemon running here, when it reads the config at `config_path`;
// none when no daemon runs or it reads another config. `daemon`: its status answer, when asked
// already (null: none runs).
TemporaryList daemon_temporary(const std::string& config_path);
TemporaryList daemon_temporary(const std::string& config_path, const nlohmann::json& daemon);

// What the daemon enforces for `config` (the policy read from `config_path`): the config and the
// running daemon's temporary entries. What status, doctor and explain compare the kernel with.
Policy with_daemon_temporary(const Policy& config, const std::string& config_path,
                             const nlohmann::json& daemon);
// The same, asking the daemon (none, or one that does not answer: the config alone).
Policy with_daemon_temporary(const Policy& config, const std::string& config_path);

} // namespace memguard
