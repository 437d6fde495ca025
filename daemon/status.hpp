// `memguardd status` and `memguardd doctor`: read-only views of the kernel and the host.
#pragma once

#include <string>

namespace memguard {

// The kernel's rules, and what the running daemon says about itself (control.hpp). Exit status
// as systemctl status: 0 running and in sync, 1 running but out of sync or failing closed,
// 3 not running.
// Without `config_given` (no --config), the running daemon's config is compared.
int print_status(const std::string& config_path, bool json, bool config_given = true);
int run_doctor(const std::string& config_path);

} // namespace memguard
