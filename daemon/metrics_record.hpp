// Fills the metrics snapshot from what the daemon sees: passes, revocations, conflict verdicts,
// rejected reloads, the policy in force. Pure: the clock comes in as an argument.
#pragma once

#include "conflict.hpp"
#include "guard.hpp"
#include "metrics_format.hpp"
#include "policy.hpp"
#include "policy_source.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace memguard {

// How a write of the metrics reaches the file.
enum class MetricsWrite : std::uint8_t {
    skip,    // only the verify pass's time and duration moved, and the file is not yet stale
    quick,   // only the blocked counters moved, or the file is due its refresh: no fsync
    durable, // a figure changed, or nothing was written yet: fsync, then rename
};
// A file with nothing new is written again this often all the same: its time stamps (and its
// mtime, which node_exporter exports) say that the daemon is alive.
inline constexpr std::chrono::seconds metrics_refresh{60};
// What writing `now` needs when `written` is in the file (nullopt: nothing, or not that file),
// written `since` ago.
MetricsWrite metrics_write_needed(const std::optional<MetricsSnapshot>& written,
                                  const MetricsSnapshot& now,
                                  std::chrono::steady_clock::duration since);

class MetricsRecorder {
public:
    using wall_clock = std::chrono::system_clock;

    // After any pass: in sync, failing closed, and the last success's time. After a verify pass
    // also the drift it found, whether it committed a repair, and `took`, how long it took.
    void pass(const Report& report, PassKind kind, bool config_invalid,
              std::chrono::steady_clock::duration took = {},
              wall_clock::time_point now = wall_clock::now());
    // The connections a pass cut.
    void revocation(const Pass& pass);
    // What the conflict tracker said of a verify pass.
    void conflict(ConflictTracker::Verdict verdict);
    void reload_failed() { ++snapshot_.reload_failures; }
    void temporary(const TemporaryCounts& counts) { snapshot_.temporary = counts; }
    // Whether the config validated, and the last good policy's age when that is what runs.
    // Before pass(): while the last good policy runs, the kernel is not in sync with the config.
    void config(const RunningConfig& running);
    // The allowlist in force (each guard's networks per family) and the backend programming it.
    void policy(const Policy& policy, std::string_view backend);
    // Written by a clean stop.
    void stopping() { snapshot_.up = false; }

    [[nodiscard]] MetricsSnapshot& snapshot() { return snapshot_; }
    [[nodiscard]] const MetricsSnapshot& snapshot() const { return snapshot_; }

private:
    MetricsSnapshot snapshot_;
};

} // namespace memguard
