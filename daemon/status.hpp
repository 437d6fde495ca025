// `memguardd status` and `memguardd doctor`: read-only views of the kernel and the host.
#pragma once

#include <string>

namespace memguard {

struct StatusOptions {
    bool json = false;        // the whole document, for scripts
    bool verbose = false;     // the summary, then every rule and set with its counters
    bool config_given = true; // false (no --config): the running daemon's config is compared
};

// What the running daemon says about itself (control.hpp), the config and the kernel's rules:
// a short summary (status_text.hpp), more with --verbose, all of it with --json. Exit status as
// systemctl status: 0 running and in sync, 1 running but out of sync or failing closed,
// 3 not running.
int print_status(const std::string& config_path, const StatusOptions& options);
int run_doctor(const std::string& config_path);

} // namespace memguard
