#include "metrics_format.hpp"

#include "policy.hpp"

#include <charconv>
#include <utility>

namespace memguard {

namespace {

using Labels = std::vector<std::pair<std::string_view, std::string>>;

// The shortest text that reads back as the same double (Go's ParseFloat, which Prometheus uses,
// takes this form, exponent included).
std::string number(double value) {
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    return ec == std::errc{} ? std::string(buf, end) : "NaN";
}

std::string number(std::uint64_t value) {
    return std::to_string(value);
}

// Builds the text format 0.0.4 (Prometheus' "Exposition formats"): per metric family one HELP,
// one TYPE, then its samples.
class Exposition {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        text_.append("# HELP ").append(name).append(" ").append(help).append("\n");
        text_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    }
    void sample(std::string_view name, const Labels& labels, const std::string& value) {
        text_.append(name);
        if (!labels.empty()) {
            char sep = '{';
            for (const auto& [label, v] : labels) {
                text_.append(1, sep).append(label).append("=\"");
                text_.append(escape_label_value(v)).append("\"");
                sep = ',';
            }
            text_.append("}");
        }
        text_.append(" ").append(value).append("\n");
    }
    // A family of one unlabelled sample.
    void single(std::string_view name, std::string_view type, std::string_view help,
                const std::string& value) {
        family(name, type, help);
        sample(name, {}, value);
    }
    std::string take() { return std::move(text_); }

private:
    std::string text_;
};

std::string flag(bool b) {
    return b ? "1" : "0";
}

void state(Exposition& out, const MetricsSnapshot& s) {
    out.single("memguardd_up", "gauge",
               "1 while memguardd runs; 0 written by a clean stop (the rules stay in place). A "
               "daemon that died leaves the file as it was: watch the file's age too.",
               flag(s.up));
    out.single("memguardd_in_sync", "gauge",
               "1 when the last pass left the kernel holding the configured rules; 0 when it "
               "failed, fails closed or runs the last good policy (the config is invalid).",
               flag(s.in_sync));
    out.single("memguardd_failing_closed", "gauge",
               "1 when loopback-only rules stand in for the configured ones (or a part of them).",
               flag(s.failing_closed));
    out.single("memguardd_config_valid", "gauge",
               "1 when the config validated when last read (start, reload); 0 when it did not, "
               "and the daemon runs the last good policy, fails closed, or kept the rules of an "
               "earlier reload.",
               flag(s.config_valid));
    out.single("memguardd_in_conflict", "gauge",
               "1 while another program keeps undoing our rules pass after pass.",
               flag(s.in_conflict));
    out.family("memguardd_backend_info", "gauge",
               "The backend that programs the rules, as a label; the value is always 1.");
    if (!s.backend.empty()) {
        out.sample("memguardd_backend_info", {{"backend", s.backend}}, "1");
    }
    out.family("memguardd_allowed_networks", "gauge",
               "Networks allowed to reach a guard's ports, per address family and guard "
               "(the allowlist in force, each network once).");
    for (const auto& a : s.allowed) {
        out.sample("memguardd_allowed_networks",
                   {{"family", std::string(to_string(a.family))}, {"guard", a.guard}},
                   number(a.networks));
    }
}

void events(Exposition& out, const MetricsSnapshot& s) {
    out.family("memguardd_drift_total", "counter",
               "Differences between the kernel and the config found by verify passes, by kind "
               "(a kind appears once first seen).");
    for (const auto& [kind, n] : s.drift) {
        out.sample("memguardd_drift_total", {{"kind", kind}}, number(n));
    }
    out.single("memguardd_repairs_total", "counter",
               "Verify passes that found drift and committed a repair.", number(s.repairs));
    out.single("memguardd_conflicts_total", "counter",
               "Conflicts: another program undid our rules in several passes in a row.",
               number(s.conflicts));
    out.single("memguardd_reload_failures_total", "counter",
               "Reloads rejected because the config was invalid (the rules stayed as they were).",
               number(s.reload_failures));
    out.single("memguardd_revoked_connections_total", "counter",
               "Open connections (conntrack entries) cut because the allowlist no longer allows "
               "their source.",
               number(s.revoked_connections));
    out.single("memguardd_temporary_entries", "gauge",
               "Temporary allowlist entries in force (memguardd allow --for).",
               number(s.temporary.active));
    out.single("memguardd_temporary_granted_total", "counter",
               "Temporary allowlist entries granted or renewed since the daemon started.",
               number(s.temporary.granted));
    out.single("memguardd_temporary_expired_total", "counter",
               "Temporary allowlist entries that expired since the daemon started (revoked ones "
               "not counted).",
               number(s.temporary.expired));
}

// The kernel's counters of our drop/reject rules.
void blocked(Exposition& out, const MetricsSnapshot& s) {
    static constexpr std::string_view reset_note =
        ", counted by our drop/reject rules in the kernel. The count restarts at 0 when the "
        "rules are made again; rate() and increase() take that as a counter reset.";
    const std::pair<std::string_view, std::string_view> kinds[] = {
        {"memguardd_blocked_packets_total", "Packets"},
        {"memguardd_blocked_bytes_total", "Bytes of the packets"}};
    for (const auto& [name, what] : kinds) {
        out.family(name, "counter",
                   std::string(what)
                       .append(" blocked on their way to a guarded port, per address family and "
                               "protocol")
                       .append(reset_note));
        for (const auto& b : s.blocked.value_or(std::vector<BlockedCount>{})) {
            out.sample(name,
                       {{"family", std::string(to_string(b.family))},
                        {"protocol", std::string(to_string(b.protocol))}},
                       number(name == kinds[0].first ? b.packets : b.bytes));
        }
    }
}

void optional_gauge(Exposition& out, std::string_view name, std::string_view help,
                    const std::optional<double>& value) {
    out.family(name, "gauge", help);
    if (value) {
        out.sample(name, {}, number(*value));
    }
}

void timings(Exposition& out, const MetricsSnapshot& s) {
    optional_gauge(out, "memguardd_last_apply_success_timestamp_seconds",
                   "When an apply pass (start, reload, retry) last left the kernel holding the "
                   "configured rules, in Unix time; absent until one has since the start.",
                   s.last_apply_success);
    optional_gauge(out, "memguardd_last_verify_success_timestamp_seconds",
                   "When a verify pass last found (or repaired) the kernel holding the configured "
                   "rules, in Unix time; absent until one has since the start.",
                   s.last_verify_success);
    optional_gauge(out, "memguardd_verify_duration_seconds",
                   "How long the last verify pass took (read, compare, any repair).",
                   s.verify_duration);
    optional_gauge(out, "memguardd_last_good_policy_timestamp_seconds",
                   "While the config does not validate and the daemon runs the last good policy "
                   "instead: when that policy was saved, in Unix time; absent otherwise.",
                   s.last_good_saved);
}

} // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        switch (c) {
        case '\\':
            out += "\\\\";
            break;
        case '"':
            out += "\\\"";
            break;
        case '\n':
            out += "\\n";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string format_metrics(const MetricsSnapshot& snapshot) {
    Exposition out;
    state(out, snapshot);
    events(out, snapshot);
    blocked(out, snapshot);
    timings(out, snapshot);
    return out.take();
}

} // namespace memguard
