// One daemon per network namespace, decided by something only root can make: a lock file in a
// directory only root can write: /run/memguardd (the unit's RuntimeDirectory=, kept across
// stops so that daemons of other namespaces keep theirs), or $MEMGUARD_RUNTIME_DIRECTORY for
// tests that run many daemons side by side. The names in it carry the network
// namespace's identity (the inode of /proc/self/ns/net), so daemons in other namespaces share
// the directory without meeting. Nothing an unprivileged process binds or creates can stand in
// for it: abstract unix names, which any local user can take first, are not used.
#pragma once

#include "fd.hpp"

#include <stdexcept>
#include <string>
#include <sys/types.h>

namespace memguard {

struct InstancePaths {
    std::string directory;
    std::string lock;   // <directory>/net-<inode>.lock: held (flock) by the daemon, holds its pid
    std::string socket; // <directory>/net-<inode>.sock: the control socket, root only
};

// This network namespace's paths. Throws std::runtime_error when the namespace cannot be named.
InstancePaths instance_paths();

// A daemon already holds this network namespace's lock.
class AlreadyRunning : public std::runtime_error {
public:
    explicit AlreadyRunning(pid_t pid);
    [[nodiscard]] pid_t pid() const { return pid_; }

private:
    pid_t pid_;
};

class InstanceLock {
public:
    // Makes the directory if it is missing (0700), refuses one that someone other than root
    // could change, then takes the lock without waiting. Throws AlreadyRunning when another
    // daemon holds it, std::runtime_error (naming the path and the fix) for anything else.
    static InstanceLock take(const InstancePaths& paths);

private:
    explicit InstanceLock(Fd fd) : fd_(std::move(fd)) {}
    Fd fd_;
};

} // namespace memguard
