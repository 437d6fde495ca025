// The xtables lock: the flock on /run/xtables.lock that `iptables -w` takes. libiptc takes
// none, and the kernel only checks the rule count on commit, so every read-modify-commit
// holds it, or a concurrent iptables edit that kept the count would be silently undone.
#pragma once

#include "../fd.hpp"

#include <chrono>
#include <string>

namespace memguard::iptc {

inline constexpr const char* xtables_lock_path = "/run/xtables.lock"; // iptables' XT_LOCK_NAME

class XtablesLock {
public:
    // Waits up to `timeout` for the lock; throws KernelError when it cannot be had.
    static XtablesLock acquire(std::chrono::milliseconds timeout = std::chrono::seconds(10),
                               const std::string& path = xtables_lock_path);

private:
    explicit XtablesLock(Fd fd) : fd_(std::move(fd)) {}
    Fd fd_; // closing it releases the lock
};

} // namespace memguard::iptc
