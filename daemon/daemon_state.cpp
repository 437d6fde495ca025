#include "daemon_state.hpp"

#include "status_guards.hpp"
#include "utc_text.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <unistd.h>

namespace memguard {

namespace {

std::string now_iso8601() {
    return utc_text(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
}

} // namespace

nlohmann::json pass_json(const Report& report) {
    nlohmann::json drift = nlohmann::json::array();
    nlohmann::json errors = nlohmann::json::array();
    for (const auto& f : report.families) {
        for (const auto& d : f.drift) {
            drift.push_back(d.describe());
        }
        if (!f.error.empty()) {
            errors.push_back(std::string(to_string(f.family)) + ": " + f.error);
        }
    }
    return {{"drift", drift}, {"repaired", report.changed()}, {"errors", errors}};
}

DaemonState::DaemonState(std::string config_path)
    : config_path_(std::move(config_path)), started_(now_iso8601()) {}

void DaemonState::record_pass(const Report& report) {
    last_pass_ = now_iso8601();
    // A pass that repaired drift leaves the kernel in sync; one that failed, closed or refused
    // does not.
    in_sync_ = !report.failed() && std::ranges::none_of(report.families, [](const FamilyReport& f) {
        return f.fail_closed || !f.refused.empty();
    });
    families_ = nlohmann::json::array();
    for (const auto& f : report.families) {
        families_.push_back({{"family", to_string(f.family)},
                             {"fail_closed", f.fail_closed},
                             {"closed_scope", f.fail_closed ? f.closed_scope : ""},
                             {"error", f.error},
                             {"refused", f.refused},
                             {"unlocked", f.unlocked}});
    }
}

void DaemonState::record_guards(const Policy& policy) {
    guards_ = guards_summary(policy);
}

void DaemonState::record_apply(const RunningConfig& running) {
    last_apply_ = now_iso8601();
    running_ = running;
}

void DaemonState::record_repair(const Report& report) {
    last_repair_ = now_iso8601();
    ++repairs_;
    for (const auto& f : report.families) {
        if (!f.drift.empty()) {
            last_drift_ = f.drift.front().describe();
        }
    }
}

void DaemonState::record_backend(std::string_view name, std::string_view why) {
    backend_ = name;
    backend_why_ = why;
}

bool DaemonState::fail_closed() const {
    return running_.origin == PolicyOrigin::fail_closed ||
           std::ranges::any_of(
               families_, [](const nlohmann::json& f) { return f["fail_closed"].get<bool>(); });
}

bool DaemonState::all_closed() const {
    return std::ranges::all_of(families_, [](const nlohmann::json& f) {
        return f["error"].get<std::string>().empty() || f["fail_closed"].get<bool>();
    });
}

std::string DaemonState::first_error() const {
    for (const auto& f : families_) {
        if (!f["error"].get<std::string>().empty()) {
            return f["family"].get<std::string>() + ": " + f["error"].get<std::string>();
        }
    }
    return "";
}

// Where the policy in force came from; the config's first problem when it did not validate.
nlohmann::json DaemonState::config_json() const {
    nlohmann::json out{{"policy_source", to_string(running_.origin)},
                       {"config_invalid", running_.config_invalid},
                       {"config_hash", running_.hash},
                       {"config_loaded", running_.origin == PolicyOrigin::fail_closed
                                             ? nlohmann::json()
                                             : nlohmann::json(utc_text(running_.loaded))}};
    out["config_problem"] =
        running_.config_invalid
            ? nlohmann::json{{"file", running_.invalid_file}, {"problem", running_.problem}}
            : nlohmann::json();
    return out;
}

nlohmann::json DaemonState::to_json() const {
    nlohmann::json out = {
        {"pid", ::getpid()},
        {"version", MEMGUARD_VERSION},
        {"config", config_path_},
        {"backend", backend_},
        {"backend_why", backend_why_},
        {"started", started_},
        {"last_apply", last_apply_},
        {"last_repair", last_repair_},
        {"last_drift", last_drift_},
        {"last_pass", last_pass_.empty() ? nlohmann::json() : nlohmann::json(last_pass_)},
        {"in_sync", last_pass_.empty() ? nlohmann::json() : nlohmann::json(in_sync_)},
        {"guards", guards_},
        {"repairs", repairs_},
        {"fail_closed", fail_closed()},
        {"squatter", squatter_.empty() ? nlohmann::json() : nlohmann::json(squatter_)},
        {"families", families_}};
    out.update(config_json());
    return out;
}

} // namespace memguard
