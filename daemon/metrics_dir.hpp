// The directory of a file root writes (the metrics, the state), opened so that only root chooses
// where root writes. The daemon
// writes the file as root; were its directory, or a link on the way to it, someone else's, they
// could swap it for a link to any directory and have root create and rename files there.
#pragma once

#include "fd.hpp"

#include <optional>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>

namespace memguard {

struct FileError {
    int error = 0;        // errno
    std::string what;     // "cannot open directory /var/lib/...: No such file or directory"
    bool refused = false; // the directory is not one only root can change: nothing was tried
};

// What is wrong with `dir`, as lstat/fstat found it (`st`) on the way down to the metrics file,
// or nullopt. The config's rule (trusted_path.hpp), held by file descriptor: no symbolic link
// anywhere; the file's own directory owned by root (or `owner`) and not writable by group or
// others. A directory above it may be writable by others only with the sticky bit, and may be
// another user's (Debian's /var/lib/prometheus is prometheus'): as the walk never follows a
// link, that user can only swap in a directory it may already rename, which must still pass.
// E.g. "/srv/m is owned by uid 65534, not root; chown root /srv/m, or use a directory only
// root can write".
std::optional<std::string> metrics_dir_fault(const std::string& dir, const struct stat& st,
                                             bool holds_the_file, uid_t entry_owner, uid_t owner);

struct OpenedDir {
    Fd fd; // an O_PATH descriptor of the checked directory, for openat/renameat/unlinkat
    std::optional<FileError> error;
};

// Opens the absolute directory `dir` one component at a time from /, with O_NOFOLLOW, checking
// each as metrics_dir_fault() says. Whatever is later made relative to the descriptor lands in
// the very directory that was checked, whatever is renamed in the meantime.
OpenedDir open_metrics_dir(const std::string& dir, uid_t owner);

} // namespace memguard
