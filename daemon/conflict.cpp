#include "conflict.hpp"

namespace memguard {

ConflictTracker::Verdict ConflictTracker::pass(bool drifted, bool timer, clock::time_point now) {
    const bool held_an_interval = timer && !drifted_since_timer_;
    if (timer) {
        drifted_since_timer_ = false;
    } else if (drifted) {
        drifted_since_timer_ = true;
    }
    if (!drifted && !held_an_interval) {
        return Verdict::quiet_pass;
    }
    if (!drifted) {
        streak_ = 0;
        if (in_conflict_) {
            in_conflict_ = false;
            return Verdict::conflict_ended;
        }
        return Verdict::quiet_pass;
    }
    ++streak_;
    if (in_conflict_) {
        ++repairs_;
        if (now - last_summary_ >= summary_every_) {
            last_summary_ = now;
            return Verdict::conflict_summary;
        }
        return Verdict::suppressed;
    }
    if (streak_ >= threshold_) {
        in_conflict_ = true;
        repairs_ = streak_;
        last_summary_ = now;
        return Verdict::conflict_started;
    }
    return Verdict::report_drift;
}

} // namespace memguard
