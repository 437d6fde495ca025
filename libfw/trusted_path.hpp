// Whether only root can change what a config file's path names: the check sshd's StrictModes
// makes of every directory from the file's up to / (OpenSSH misc.c, safe_path()).
#pragma once

#include <optional>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>

namespace memguard {

// What is wrong with the directories `path` is in, or nullopt when nobody but root and `owner`
// can replace an entry of any of them. `opened` is fstat of the file as it was opened: the path
// must still name it. Every directory must be owned by root or `owner` and not be writable by
// group or others; the file's own directory not even with the sticky bit (/tmp), a directory
// above it only with the sticky bit, where nobody else can rename the root-owned entry below.
// The text reads after "path: ", e.g. "is in /srv/share, which is writable by group or others
// (mode 0777); move it to a directory only root can write, like /etc".
std::optional<std::string> untrusted_directory(const std::string& path, const struct stat& opened,
                                               uid_t owner);

// The rule above for one directory on the way, `dir` being its stat: `holds_the_file` when the
// file is directly in it, `entry_owner` the owner of its entry on the way down (the file, or the
// next directory). For callers that walk the path themselves (by file descriptor).
enum class DirectoryFault { none, foreign_owner, writable_by_others };
DirectoryFault directory_fault(const struct stat& dir, bool holds_the_file, uid_t entry_owner,
                               uid_t owner);
// "owned by uid 65534" or "writable by group or others (mode 0777)"; "" for none.
std::string describe(DirectoryFault fault, const struct stat& dir);

} // namespace memguard
