// Writing the metrics file so node_exporter never reads half of it, and only where root chose.
#pragma once

#include "metrics_dir.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace memguard {

// Replaces the absolute `path` with `text`, mode `mode` whatever the umask: its directory opened
// and checked first (open_metrics_dir(): root's, or `owner`'s, no link on the way; else refused),
// then a temporary file in it (".<name>.XXXXXX", which the textfile collector skips: it reads
// only *.prom), written, fsynced (unless not `durable`: a text that may as well be lost in a
// crash), renamed over `path`, all relative to the directory's descriptor. On failure the
// temporary file is removed and `path` is left as it was.
std::optional<FileError> replace_file(const std::string& path, std::string_view text,
                                      uid_t owner = 0, mode_t mode = 0644, bool durable = true);

// Removes `path` from its checked directory; one that is not there is no error.
std::optional<FileError> remove_file(const std::string& path, uid_t owner = 0);

} // namespace memguard
