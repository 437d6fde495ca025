// `memguardd status` and `memguardd doctor`: read-only views of the kernel and the host.
#pragma once

#include <string>

namespace memguard {

// The kernel's rules, and what the running daemon says about itself (control.hpp). Exit status
// as systemctl status: 0 running and in sync, 1 running but out of sync or failing closed,
// 3 not running.
int print_status(const std::string& config_path, bool json);
int run_doctor(const std::string& config_path);

} // namespace memguard
