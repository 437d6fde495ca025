// Tells a one-off tamper from a fight: another tool that keeps undoing our rules makes us
// repair pass after pass. After `threshold` repairing passes in a row we report one conflict,
// then only a summary every `summary_every`, until the rules held for a whole verify interval.
// Passes come from the timer and, with a backend that reports changes, from the kernel's events
// (and from `memguardd verify`): an event pass repairs at once, so the timer's next pass finds
// nothing although the fight goes on. Only a timer pass with no repair since the previous timer
// pass shows the rules held for an interval.
#pragma once

#include <chrono>
#include <cstdint>

namespace memguard {

class ConflictTracker {
public:
    using clock = std::chrono::steady_clock;
    enum class Verdict {
        quiet_pass,
        report_drift,
        conflict_started,
        conflict_summary,
        suppressed,
        conflict_ended
    };

    explicit ConflictTracker(unsigned threshold = 3,
                             clock::duration summary_every = std::chrono::seconds(60))
        : threshold_(threshold), summary_every_(summary_every) {}

    // Called once per verify pass with whether it found drift and whether the timer ran it.
    Verdict pass(bool drifted, bool timer, clock::time_point now);
    [[nodiscard]] std::uint64_t repairs_in_conflict() const { return repairs_; }

private:
    unsigned threshold_;
    clock::duration summary_every_;
    unsigned streak_ = 0;
    bool in_conflict_ = false;
    bool drifted_since_timer_ = false; // a pass between two timer passes repaired something
    std::uint64_t repairs_ = 0;
    clock::time_point last_summary_{};
};

} // namespace memguard
