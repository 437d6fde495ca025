// What the running daemon enforces, against the config on disk: for status, check and doctor.
// The daemon tells the content hash of the files its policy came from (control.hpp, "status");
// the CLI hashes the files on disk the same way (config_hash), without validating them again.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace memguard {

// What the running daemon says about itself; null when none runs in this network namespace.
nlohmann::json ask_daemon_status();

// "running the last good config from <time>; <file> is invalid: <problem>" when that is what
// the daemon runs; nullopt otherwise.
std::optional<std::string> last_good_line(const nlohmann::json& daemon);

struct DiskVersusRunning {
    bool same = false;
    std::string line; // "is what memguardd runs", or "differs from what memguardd runs (...)"
};

// The files at `config_path` against what the daemon runs; nullopt when no daemon runs, it reads
// another config, or it runs no config's policy (failing closed).
std::optional<DiskVersusRunning> disk_versus_running(const std::string& config_path,
                                                     const nlohmann::json& daemon);

} // namespace memguard
