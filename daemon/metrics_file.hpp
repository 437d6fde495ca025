// Writing the metrics file so node_exporter never reads half of it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace memguard {

struct FileError {
    int error = 0;    // errno
    std::string what; // "cannot create a temporary file in /var/lib/...: No such file or directory"
};

// Replaces `path` with `text`, mode 0644 whatever the umask: a temporary file in the same
// directory (".<name>.XXXXXX", which the textfile collector skips: it reads only *.prom), written,
// fsynced, then renamed over `path`. On failure the temporary file is removed and `path` is left
// as it was.
std::optional<FileError> replace_file(const std::string& path, std::string_view text);

// Removes `path`; one that is not there is no error.
std::optional<FileError> remove_file(const std::string& path);

} // namespace memguard
