#include "metrics_record.hpp"

#include "desired.hpp"

#include <algorithm>
#include <set>

namespace memguard {

namespace {

// Milliseconds are plenty for an alert, and keep the file readable.
double unix_seconds(MetricsRecorder::wall_clock::time_point t) {
    return static_cast<double>(
               std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch())
                   .count()) /
           1000.0;
}

// A family committed while it had drift to repair.
bool repaired(const Report& report) {
    return std::ranges::any_of(report.families, [](const FamilyReport& f) {
        return f.committed && !f.drift.empty() && f.error.empty();
    });
}

} // namespace

void MetricsRecorder::pass(const Report& report, PassKind kind, bool config_invalid,
                           std::chrono::steady_clock::duration took, wall_clock::time_point now) {
    auto& s = snapshot_;
    s.failing_closed = config_invalid || std::ranges::any_of(report.families, [](const auto& f) {
                           return f.fail_closed;
                       });
    // The last good policy stands in for a config that does not validate: not the configured
    // rules either. (A rejected reload keeps the configured rules of the reload before it.)
    s.in_sync = !report.failed() && !s.failing_closed && !s.last_good_saved;
    if (kind == PassKind::apply) {
        if (s.in_sync) {
            s.last_apply_success = unix_seconds(now);
        }
        return;
    }
    for (const auto& f : report.families) {
        for (const auto& d : f.drift) {
            ++s.drift[d.kind];
        }
    }
    if (repaired(report)) {
        ++s.repairs;
    }
    if (s.in_sync) {
        s.last_verify_success = unix_seconds(now);
    }
    s.verify_duration = std::chrono::duration<double>(took).count();
}

void MetricsRecorder::config(const RunningConfig& running) {
    snapshot_.config_valid = !running.config_invalid;
    snapshot_.last_good_saved.reset();
    if (running.origin == PolicyOrigin::last_good) {
        snapshot_.last_good_saved = static_cast<double>(running.loaded);
    }
}

void MetricsRecorder::revocation(const Pass& pass) {
    if (pass.revocation) {
        snapshot_.revoked_connections += pass.revocation->cut.deleted;
    }
}

void MetricsRecorder::conflict(ConflictTracker::Verdict verdict) {
    using V = ConflictTracker::Verdict;
    if (verdict == V::conflict_started) {
        ++snapshot_.conflicts;
        snapshot_.in_conflict = true;
    } else if (verdict == V::conflict_ended) {
        snapshot_.in_conflict = false;
    }
}

void MetricsRecorder::policy(const Policy& policy, std::string_view backend) {
    snapshot_.backend = backend;
    snapshot_.allowed.clear();
    for (const Family family : both_families) {
        for (const auto& guard : desired_family(policy, family).guards) {
            const std::set<Network> distinct(guard.allow.begin(), guard.allow.end());
            snapshot_.allowed.push_back({family, guard.name, distinct.size()});
        }
    }
}

namespace {

// The snapshot without what moves at every pass or with every blocked packet; that there is a
// verify time and duration at all (none before the first verify pass) stays.
MetricsSnapshot settled(MetricsSnapshot s) {
    s.blocked.reset();
    if (s.last_verify_success) {
        s.last_verify_success = 0.0;
    }
    if (s.verify_duration) {
        s.verify_duration = 0.0;
    }
    return s;
}

} // namespace

MetricsWrite metrics_write_needed(const std::optional<MetricsSnapshot>& written,
                                  const MetricsSnapshot& now,
                                  std::chrono::steady_clock::duration since) {
    if (!written || format_metrics(settled(*written)) != format_metrics(settled(now))) {
        return MetricsWrite::durable;
    }
    if (written->blocked != now.blocked || since >= metrics_refresh) {
        return MetricsWrite::quick;
    }
    return MetricsWrite::skip;
}

} // namespace memguard
