// `memguardd clients`.
#pragma once

#include <string>

namespace memguard {

int print_clients(const std::string& config_path, bool json);

} // namespace memguard
