#include "timer.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace memguard {

namespace {

timespec to_timespec(std::chrono::nanoseconds d) {
    const auto sec = std::chrono::duration_cast<std::chrono::seconds>(d);
    return {sec.count(), (d - sec).count()};
}

Fd make_timer(std::chrono::nanoseconds first, std::chrono::nanoseconds every) {
    Fd fd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (!fd) {
        throw std::runtime_error(std::string("timerfd_create: ") + std::strerror(errno));
    }
    itimerspec spec{};
    spec.it_interval = to_timespec(every);
    spec.it_value = to_timespec(first);
    if (::timerfd_settime(fd.get(), 0, &spec, nullptr) != 0) {
        throw std::runtime_error(std::string("timerfd_settime: ") + std::strerror(errno));
    }
    return fd;
}

} // namespace

Fd make_periodic_timer(std::chrono::nanoseconds every) {
    return make_timer(every, every);
}

Fd make_oneshot_timer(std::chrono::nanoseconds after) {
    return make_timer(after, std::chrono::nanoseconds::zero());
}

void acknowledge_timer(const Fd& timer) {
    std::uint64_t expirations = 0;
    // EAGAIN (already read) is harmless: the loop only wants the fd quiet again.
    (void)!::read(timer.get(), &expirations, sizeof expirations);
}

} // namespace memguard
