#include "timer.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace memguard {

Fd make_periodic_timer(std::chrono::nanoseconds every) {
    Fd fd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (!fd) {
        throw std::runtime_error(std::string("timerfd_create: ") + std::strerror(errno));
    }
    const auto sec = std::chrono::duration_cast<std::chrono::seconds>(every);
    itimerspec spec{};
    spec.it_interval.tv_sec = sec.count();
    spec.it_interval.tv_nsec = (every - sec).count();
    spec.it_value = spec.it_interval;
    if (::timerfd_settime(fd.get(), 0, &spec, nullptr) != 0) {
        throw std::runtime_error(std::string("timerfd_settime: ") + std::strerror(errno));
    }
    return fd;
}

void acknowledge_timer(const Fd& timer) {
    std::uint64_t expirations = 0;
    // EAGAIN (already read) is harmless: the loop only wants the fd quiet again.
    (void)!::read(timer.get(), &expirations, sizeof expirations);
}

} // namespace memguard
