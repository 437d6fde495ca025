#include "metrics.hpp"

#include "log.hpp"
#include "metrics_file.hpp"

#include <cerrno>
#include <exception>

namespace memguard {

namespace {

using spdlog::level::info;
using spdlog::level::warn;

// Problems are errors of the daemon's own (not the guard's); the rest is about the config.
void log_metrics(spdlog::level::level_enum level, const std::string& path,
                 const std::string& message) {
    log_event(
        level,
        {level == info ? Event::config : Event::error, std::nullopt, {{"METRICS_FILE", path}}},
        message);
}

} // namespace

void Metrics::read_blocked(Backend& backend) {
    try {
        recorder_.snapshot().blocked = backend.blocked();
        blocked_problem_.clear();
    } catch (const std::exception& e) {
        // Left out rather than guessed: a gap in the series, not a made-up figure.
        recorder_.snapshot().blocked.reset();
        if (e.what() != blocked_problem_) {
            blocked_problem_ = e.what();
            log_metrics(warn, "",
                        std::string("metrics: cannot read the blocked counters: ") + e.what() +
                            "; left out of the metrics file");
        }
    }
}

void Metrics::forget_old(const std::optional<std::string>& path) {
    if (!written_ || written_ == path) {
        return;
    }
    if (const auto failed = remove_file(*written_)) {
        log_metrics(warn, *written_, "metrics: " + failed->what + ", ignoring");
    } else {
        log_metrics(info, *written_, "metrics: removed " + *written_ + ", no longer configured");
    }
    written_.reset();
}

void Metrics::write(const Policy& policy, Backend& backend) {
    forget_old(policy.metrics_file);
    if (!policy.metrics_file) {
        return;
    }
    const std::string& path = *policy.metrics_file;
    recorder_.policy(policy, backend.name());
    read_blocked(backend);
    const auto now = std::chrono::steady_clock::now();
    const bool same_file = written_ == path && problem_.empty();
    const MetricsWrite need = metrics_write_needed(same_file ? in_file_ : std::nullopt,
                                                   recorder_.snapshot(), now - written_at_);
    if (need == MetricsWrite::skip) {
        return;
    }
    const auto failed = replace_file(path, format_metrics(recorder_.snapshot()), 0, 0644,
                                     need == MetricsWrite::durable);
    if (!failed) {
        if (!problem_.empty()) {
            log_metrics(info, path, "metrics: writing " + path + " again");
            problem_.clear();
        }
        written_ = path;
        in_file_ = recorder_.snapshot();
        written_at_ = now;
        return;
    }
    if (failed->what == problem_) {
        return; // said once; every pass tries again quietly
    }
    problem_ = failed->what;
    if (failed->refused) {
        log_metrics(spdlog::level::err, path,
                    "metrics: refusing to write " + path + ": " + failed->what +
                        "; not written until that is fixed (checked after each pass), the guard "
                        "goes on");
        return;
    }
    const std::string hint =
        failed->error == ENOENT ? " (is prometheus-node-exporter installed? Set \"metrics_file\": "
                                  "null to write none)"
        : failed->error == EROFS || failed->error == EACCES
            ? " (under systemd the unit may write only below ReadWritePaths=; see memguardd(8))"
            : "";
    log_metrics(warn, path,
                "metrics: " + failed->what + hint +
                    "; not written, trying again "
                    "after each pass");
}

void Metrics::write_stopped(const Policy& policy, Backend& backend) {
    recorder_.stopping();
    write(policy, backend);
}

} // namespace memguard
