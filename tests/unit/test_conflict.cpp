// The conflict tracker (daemon/conflict.cpp): a fight is three repairing passes in a row, and
// it is over only once the rules held for a whole verify interval, whatever ran the passes in
// between (the timer, the kernel's change events, `memguardd verify`).
#include "support.hpp"

#include "conflict.hpp"

#include <chrono>

using memguard::ConflictTracker;
using Verdict = ConflictTracker::Verdict;
using namespace std::chrono_literals;

namespace {

constexpr bool timer = true;
constexpr bool event = false;
const auto t0 = ConflictTracker::clock::time_point{} + 1h;

} // namespace

TEST_CASE("conflict: timer passes alone, as the legacy backend runs them") {
    ConflictTracker tracker;
    CHECK(tracker.pass(true, timer, t0) == Verdict::report_drift);
    CHECK(tracker.pass(false, timer, t0 + 1s) == Verdict::quiet_pass); // a one-off tamper
    CHECK(tracker.pass(true, timer, t0 + 2s) == Verdict::report_drift);
    CHECK(tracker.pass(true, timer, t0 + 3s) == Verdict::report_drift);
    CHECK(tracker.pass(true, timer, t0 + 4s) == Verdict::conflict_started);
    CHECK(tracker.repairs_in_conflict() == 3);
    CHECK(tracker.pass(true, timer, t0 + 5s) == Verdict::suppressed);
    CHECK(tracker.pass(false, timer, t0 + 6s) == Verdict::conflict_ended);
    CHECK(tracker.repairs_in_conflict() == 4);
}

TEST_CASE("conflict: event passes repair at once; a quiet timer pass after them is no end") {
    ConflictTracker tracker;
    CHECK(tracker.pass(true, event, t0) == Verdict::report_drift);
    CHECK(tracker.pass(true, event, t0 + 300ms) == Verdict::report_drift);
    // The timer finds nothing: the events' passes repaired it all. The fight goes on.
    CHECK(tracker.pass(false, timer, t0 + 500ms) == Verdict::quiet_pass);
    CHECK(tracker.pass(true, event, t0 + 600ms) == Verdict::conflict_started);
    for (int i = 1; i <= 10; ++i) {
        const auto at = t0 + 600ms + i * 300ms;
        CHECK(tracker.pass(true, event, at) == Verdict::suppressed);
        if (i % 3 == 0) {
            CHECK(tracker.pass(false, timer, at + 100ms) == Verdict::quiet_pass);
        }
    }
    // The fight stops: the first timer pass still follows a repair, the next one ends it.
    CHECK(tracker.pass(false, timer, t0 + 4s) == Verdict::quiet_pass);
    CHECK(tracker.pass(false, timer, t0 + 5s) == Verdict::conflict_ended);
    CHECK(tracker.repairs_in_conflict() == 13);
}

TEST_CASE("conflict: a quiet event or manual pass neither ends a conflict nor resets a streak") {
    ConflictTracker tracker;
    CHECK(tracker.pass(true, event, t0) == Verdict::report_drift);
    CHECK(tracker.pass(false, event, t0 + 100ms) == Verdict::quiet_pass);
    CHECK(tracker.pass(true, event, t0 + 200ms) == Verdict::report_drift);
    CHECK(tracker.pass(true, event, t0 + 300ms) == Verdict::conflict_started);
    CHECK(tracker.pass(false, event, t0 + 400ms) == Verdict::quiet_pass);
    CHECK(tracker.pass(false, timer, t0 + 1s) == Verdict::quiet_pass);
    CHECK(tracker.pass(false, timer, t0 + 2s) == Verdict::conflict_ended);
}

TEST_CASE("conflict: one summary per summary_every while the fight goes on") {
    ConflictTracker tracker(3, 60s);
    for (int i = 0; i < 3; ++i) {
        tracker.pass(true, timer, t0 + std::chrono::seconds(i));
    }
    CHECK(tracker.pass(true, timer, t0 + 30s) == Verdict::suppressed);
    CHECK(tracker.pass(true, timer, t0 + 63s) == Verdict::conflict_summary);
    CHECK(tracker.pass(true, timer, t0 + 64s) == Verdict::suppressed);
}
