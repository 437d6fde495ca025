// Reading a config file the way load_config trusts it: a regular root-owned file, writable by
// nobody else, at most max_config_bytes, read without hanging on a FIFO. Shared by load_config
// and ports_named_in_file.
#pragma once

#include "config.hpp"

#include <cstddef>
#include <string>

namespace memguard {

// A larger file is refused ("that is not an allowlist"). A million IPv4 networks, every tenth
// labelled, one per line, take 24 MiB.
inline constexpr std::size_t max_config_bytes = std::size_t{64} << 20;

// The whole of `path`, refused unless `rules` trust it. ConfigError with the path in front.
std::string read_config_file(const std::string& path, FileRules rules);

} // namespace memguard
