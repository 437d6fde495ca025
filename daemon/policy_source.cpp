#include "policy_source.hpp"

#include "last_good.hpp"
#include "log.hpp"
#include "passes.hpp"
#include "state_store.hpp"

#include <chrono>

namespace memguard {

namespace {

using spdlog::level::err;
using spdlog::level::info;
using spdlog::level::warn;

std::int64_t now_unix() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// "/etc/memguard.json: allow[2]: ..." → the file and the rest; a problem without a file in front
// is the main file's.
void take_problem(RunningConfig& running, const std::string& config_path,
                  const std::string& problem) {
    running.config_invalid = true;
    running.invalid_file = config_path;
    running.problem = problem;
    if (const auto colon = problem.find(": ");
        problem.starts_with('/') && colon != 0 && colon != std::string::npos) {
        running.invalid_file = problem.substr(0, colon);
        running.problem = problem.substr(colon + 2);
    }
}

} // namespace

std::string_view to_string(PolicyOrigin origin) {
    switch (origin) {
    case PolicyOrigin::config:
        return "config";
    case PolicyOrigin::last_good:
        return "last_good";
    case PolicyOrigin::fail_closed:
        return "fail_closed";
    }
    return "(an origin this build does not know)"; // a value outside the enum
}

std::optional<Policy> PolicySource::from_config() {
    try {
        ConfigSource source = read_config_source(config_path_);
        Policy policy = parse_config_source(source);
        running_ = {PolicyOrigin::config, config_hash(source), now_unix(), false, {}, {}};
        source_ = std::move(source);
        return policy;
    } catch (const ConfigError& e) {
        for (const auto& problem : e.problems()) {
            log_event(err, {Event::config, std::nullopt, {}}, problem);
        }
        take_problem(running_, config_path_, e.problems().front());
        return std::nullopt;
    }
}

// A state file that is refused or does not validate is not used, and the journal says why.
std::optional<Policy> PolicySource::from_last_good() {
    LastGoodLoad load = load_last_good(config_path_);
    if (!load.policy) {
        if (!load.why_not.empty()) {
            log_event(err, {Event::config, std::nullopt, {{"LAST_GOOD", "refused"}}},
                      "the last good policy is not used: " + load.why_not);
        }
        return std::nullopt;
    }
    running_.origin = PolicyOrigin::last_good;
    running_.hash = load.saved->hash;
    running_.loaded = load.saved->saved;
    kept_hash_ = load.saved->hash;
    log_event(err, {Event::config, std::nullopt, {{"LAST_GOOD", utc_text(load.saved->saved)}}},
              running_.invalid_file + " is invalid: " + running_.problem +
                  "; running the last good config from " + utc_text(load.saved->saved) + " (" +
                  summary(*load.policy) + ", kept in " + state_directory() + "/" +
                  std::string(last_good_name) + "); fix " + running_.invalid_file + " and " +
                  reload_hint());
    return std::move(load.policy);
}

Policy PolicySource::at_start(std::optional<Guard>& guard) {
    if (auto policy = from_config()) {
        log_event(info, {Event::config, std::nullopt, {}},
                  "loaded " + config_path_ + ": " + summary(*policy));
        log_warnings(*policy);
        guard.emplace(policy->backend);
        return std::move(*policy);
    }
    if (auto policy = from_last_good()) {
        guard.emplace(policy->backend);
        return std::move(*policy);
    }
    guard.emplace(backend_holding_ours()); // the last good run's backend, if any
    Policy policy = guard->fail_closed_policy(ports_named_in_file(config_path_));
    running_.origin = PolicyOrigin::fail_closed;
    running_.hash.clear();
    log_event(err, {Event::config, std::nullopt, {{"FAIL_CLOSED", "1"}}},
              "no valid configuration and no usable last good policy: failing closed on port(s) " +
                  join_ports(all_ports(policy)) + ", open to loopback only; fix " + config_path_ +
                  " and " + reload_hint());
    return policy;
}

std::optional<Policy> PolicySource::at_reload() {
    return from_config();
}

void PolicySource::applied() {
    if (running_.origin != PolicyOrigin::config || !source_) {
        return;
    }
    if (kept_hash_.empty()) {
        kept_hash_ = saved_last_good_hash();
    }
    if (kept_hash_ == running_.hash) {
        source_.reset();
        return;
    }
    const auto failed = save_last_good({*source_, running_.hash, running_.loaded});
    if (failed && *failed != save_problem_) {
        log_event(warn, {Event::error, std::nullopt, {{"LAST_GOOD", "unsaved"}}},
                  "cannot keep the policy just applied as the last good one: " + *failed);
    }
    save_problem_ = failed.value_or("");
    if (!failed) {
        kept_hash_ = running_.hash;
        source_.reset();
    }
}

} // namespace memguard
