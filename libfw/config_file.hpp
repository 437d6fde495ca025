// Reading a config file the way load_config trusts it: a regular root-owned file, writable by
// nobody else, at most 1 MiB, read without hanging on a FIFO. Shared by load_config and
// ports_named_in_file.
#pragma once

#include "config.hpp"

#include <string>

namespace memguard {

// The whole of `path`, refused unless `rules` trust it. ConfigError with the path in front.
std::string read_config_file(const std::string& path, FileRules rules);

} // namespace memguard
