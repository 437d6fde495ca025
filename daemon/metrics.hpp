// The daemon's Prometheus textfile: what the service loop calls after a pass, on a rejected
// reload and at a clean stop. Problems writing it are the journal's to hear once, never a
// reason to stop guarding.
#pragma once

#include "backend.hpp"
#include "metrics_record.hpp"
#include "policy.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace memguard {

class Metrics {
public:
    [[nodiscard]] MetricsRecorder& record() { return recorder_; }
    // Reads the kernel's blocked counters and writes the file `policy.metrics_file` names
    // (nothing when it is null; a file written under an earlier name is removed), when
    // metrics_write_needed says it needs writing.
    void write(const Policy& policy, Backend& backend);
    // memguardd_up 0, for a clean stop; the file stays.
    void write_stopped(const Policy& policy, Backend& backend);

private:
    void read_blocked(Backend& backend);
    void forget_old(const std::optional<std::string>& path);

    MetricsRecorder recorder_;
    std::optional<std::string> written_; // the path last written
    // What that file holds, and when it was written (metrics_write_needed).
    std::optional<MetricsSnapshot> in_file_;
    std::chrono::steady_clock::time_point written_at_;
    std::string problem_;         // the write problem last logged, "" when none
    std::string blocked_problem_; // the same for reading the blocked counters
};

} // namespace memguard
