// `memguardd status` and `memguardd doctor`: read-only views of the kernel and the host.
#pragma once

#include <string>

namespace memguard {

// Where the daemon records its last apply and repair for `status` (RuntimeDirectory).
// The daemon records its last apply and repair in runtime_dir()/state.json.

int print_status(const std::string& config_path, bool json);
int run_doctor(const std::string& config_path);

} // namespace memguard
