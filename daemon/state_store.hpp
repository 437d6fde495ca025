// The daemon's own files that outlive it: the last policy it applied, temporary allowlist entries.
// They live in $STATE_DIRECTORY (systemd's StateDirectory=memguardd) or /var/lib/memguardd, never
// in /etc, which belongs to the admin and to config management. Written and read the way the
// metrics file is (metrics_dir.hpp): through a directory only root can change, never through a
// link, replaced atomically.
#pragma once

#include "metrics_dir.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace memguard {

// $STATE_DIRECTORY (its first entry, when systemd lists several), else /var/lib/memguardd.
std::string state_directory();

// Replaces `name` in the state directory with `text` (mode 0600: temporary file, fsync, rename),
// making the directory (0700) when it is missing.
std::optional<FileError> write_state(const std::string& name, std::string_view text,
                                     uid_t owner = 0);

struct StateText {
    std::optional<std::string> text; // nullopt: there is no such file (or it was refused)
    std::optional<FileError> error;  // it is there but could not be read, or was refused
};

// The whole of `name` in the state directory. Refused: a link, anything but a regular file, a
// file not owned by `owner` (root) or writable by group or others, a directory others can change.
StateText read_state(const std::string& name, uid_t owner = 0);

// Removes `name` from the state directory; one that is not there is no error.
std::optional<FileError> remove_state(const std::string& name, uid_t owner = 0);

} // namespace memguard
