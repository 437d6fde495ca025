// Tells a one-off tamper from a fight: another tool that keeps undoing our rules makes us
// repair pass after pass. After `threshold` repairing passes in a row we report one conflict,
// then only a summary every `summary_every`, until a pass finds nothing to repair.
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

    // Called once per verify pass with whether it found drift.
    Verdict pass(bool drifted, clock::time_point now);
    [[nodiscard]] std::uint64_t repairs_in_conflict() const { return repairs_; }

private:
    unsigned threshold_;
    clock::duration summary_every_;
    unsigned streak_ = 0;
    bool in_conflict_ = false;
    std::uint64_t repairs_ = 0;
    clock::time_point last_summary_{};
};

} // namespace memguard
