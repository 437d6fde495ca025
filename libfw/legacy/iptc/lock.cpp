#include "lock.hpp"

#include "../tables.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <thread>

namespace memguard::iptc {

std::string lock_path() {
    const char* path = std::getenv("XTABLES_LOCKFILE");
    return path != nullptr && *path != '\0' ? path : xtables_lock_path;
}

XtablesLock XtablesLock::acquire(std::chrono::milliseconds timeout, const std::string& path) {
    Fd fd(::open(path.c_str(), O_CREAT | O_RDONLY | O_CLOEXEC, 0600));
    if (!fd) {
        throw KernelError("cannot open " + path + ": " + std::strerror(errno), errno);
    }
    // Polls like iptables -w does, so a stuck holder turns into an error, not a hang.
    constexpr auto step = std::chrono::milliseconds(5);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            throw KernelError("cannot lock " + path + ": " + std::strerror(errno), errno);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            throw LockBusy("another program has held the xtables lock " + path + " for over " +
                               std::to_string(timeout.count()) + " ms; giving up",
                           EWOULDBLOCK);
        }
        std::this_thread::sleep_for(step);
    }
    return XtablesLock(std::move(fd));
}

} // namespace memguard::iptc
