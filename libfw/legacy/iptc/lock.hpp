// The xtables lock: the flock on /run/xtables.lock that `iptables -w` takes. libiptc takes
// none, and the kernel only checks the rule count on commit, so every read-modify-commit
// holds it, or a concurrent iptables edit that kept the count would be silently undone.
#pragma once

#include "fd.hpp"

#include <chrono>
#include <string>

namespace memguard::iptc {

inline constexpr const char* xtables_lock_path = "/run/xtables.lock"; // iptables' XT_LOCK_NAME

// $XTABLES_LOCKFILE, which iptables 1.8 honours too (xshared.c), or xtables_lock_path.
std::string lock_path();

class XtablesLock {
public:
    // Waits up to `timeout` for the lock; throws LockBusy when another program holds it that
    // long, KernelError when it cannot be had at all.
    static XtablesLock acquire(std::chrono::milliseconds timeout = std::chrono::seconds(10),
                               const std::string& path = lock_path());

private:
    explicit XtablesLock(Fd fd) : fd_(std::move(fd)) {}
    Fd fd_; // closing it releases the lock
};

} // namespace memguard::iptc
