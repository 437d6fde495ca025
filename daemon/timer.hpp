// Timers for the event loop, as timerfds.
#pragma once

#include "fd.hpp"

#include <chrono>

namespace memguard {

// A non-blocking CLOCK_MONOTONIC timerfd that fires every `every`; throws std::runtime_error.
Fd make_periodic_timer(std::chrono::nanoseconds every);

// A non-blocking CLOCK_MONOTONIC timerfd that fires once, `after` from now.
Fd make_oneshot_timer(std::chrono::nanoseconds after);

// Reads the expiration count, so the fd stops being readable until the next expiry.
void acknowledge_timer(const Fd& timer);

} // namespace memguard
