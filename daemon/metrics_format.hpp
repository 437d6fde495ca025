// The daemon's figures for Prometheus, and their text in the exposition format that
// node_exporter's textfile collector reads. Plain data and a pure formatter: what fills the
// snapshot is metrics_record.hpp, what writes the file is metrics_file.hpp.
#pragma once

#include "backend.hpp"
#include "net.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memguard {

struct AllowedCount {
    Family family = Family::ipv4;
    std::string guard;
    std::uint64_t networks = 0;
};

// Temporary allowlist entries (temporary_keeper.hpp): in force now, and since the start.
struct TemporaryCounts {
    std::uint64_t active = 0;
    std::uint64_t granted = 0; // renewals included
    std::uint64_t expired = 0;
};

struct MetricsSnapshot {
    bool up = true;              // false: written by a daemon stopping cleanly
    bool in_sync = false;        // the last pass left the kernel holding the configured rules
    bool failing_closed = false; // loopback-only rules stand in for the config (or a part of it)
    bool in_conflict = false;    // another program keeps undoing our rules (conflict.hpp)
    bool config_valid = true;    // the config on disk validated when last read
    std::string backend;         // "iptables-legacy", "nftables"; "" before the first pass
    std::vector<AllowedCount> allowed;
    std::map<std::string, std::uint64_t> drift; // by Drift::kind, found by verify passes
    std::uint64_t repairs = 0;                  // verify passes that committed a repair
    std::uint64_t conflicts = 0;                // conflicts started
    std::uint64_t reload_failures = 0;          // reloads rejected: the config was invalid
    std::uint64_t revoked_connections = 0;      // conntrack entries cut (Revocation::cut)
    TemporaryCounts temporary;
    // Backend::blocked(); nullopt: the kernel's counters could not be read for this write.
    std::optional<std::vector<BlockedCount>> blocked;
    // Unix time in seconds; nullopt: not yet since the daemon started.
    std::optional<double> last_apply_success;
    std::optional<double> last_verify_success;
    std::optional<double> verify_duration; // seconds, of the last verify pass
    // When the last good policy in force was saved; nullopt: the policy is not a last good one.
    std::optional<double> last_good_saved;
};

// A label value as the exposition format wants it: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);

// The whole file: every metric with its HELP and TYPE, in a fixed order, ending with a newline.
std::string format_metrics(const MetricsSnapshot& snapshot);

} // namespace memguard
