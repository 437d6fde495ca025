#include "conflict.hpp"

namespace memguard {

ConflictTracker::Verdict ConflictTracker::pass(bool drifted, clock::time_point now) {
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
