#include "passes.hpp"

#include "allowlist_change.hpp"
#include "config_warnings.hpp"
#include "control.hpp"
#include "netlink/socket.hpp"

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace memguard {

namespace {

using spdlog::level::err;
using spdlog::level::info;
using spdlog::level::warn;

std::string first_drift(const Report& report) {
    for (const auto& f : report.families) {
        if (!f.drift.empty()) {
            return f.drift.front().describe();
        }
    }
    return "none";
}

void log_drift(const FamilyReport& f) {
    for (const auto& d : f.drift) {
        log_event(warn, {Event::drift, f.family, {{"DRIFT_KIND", d.kind}, {"CHAIN", d.where}}},
                  "drift: " + d.describe());
    }
}

void log_repair(const Report& report) {
    for (const auto& f : report.families) {
        log_drift(f);
        if (f.committed && !f.drift.empty()) { // one commit may serve both families
            log_event(warn,
                      {Event::repair,
                       f.family,
                       {{"DRIFT_COUNT", std::to_string(f.drift.size())},
                        {"ATTEMPTS", std::to_string(f.attempts)}}},
                      "repaired " + std::string(to_string(f.family)) + ": " +
                          std::to_string(f.drift.size()) + " difference(s) fixed in one commit");
        }
    }
}

// A table of ours that a previous daemon owned is found orphaned at every restart and adopted.
bool expected_at_start(const Drift& d) {
    return d.kind == "table_orphaned" || d.kind == "table_unowned" || d.kind == "table_owner";
}

// `had_ours`: the families that held rules of ours before the pass; the others' differences are
// our rules going in for the first time (or after memguardd remove), not drift.
void log_start_drift(const Report& report, const std::set<Family>& had_ours) {
    for (FamilyReport f : report.families) {
        std::erase_if(f.drift, expected_at_start);
        if (had_ours.contains(f.family)) {
            log_drift(f);
        }
    }
}

void log_allowlist_changes(const Policy& before, const Policy& after, Event why) {
    const bool several = std::max(before.guards.size(), after.guards.size()) > 1;
    for (const auto& change : allowlist_changes(before, after)) {
        log_event(info,
                  {why,
                   std::nullopt,
                   {{"GUARD", change.guard},
                    {"ALLOWED", std::to_string(change.allowed.size())},
                    {"REVOKED", std::to_string(change.revoked.size())}}},
                  (several ? "guard " + change.guard + ": " : std::string()) + change.describe());
    }
}

} // namespace

std::string summary(const Policy& p) {
    return std::to_string(p.guards.size()) + " guard(s), " + std::to_string(all_ports(p).size()) +
           " port(s), " + std::to_string(all_networks(p).size()) + " network(s) allowed, action " +
           std::string(to_string(p.action));
}

std::string join_ports(const std::vector<std::uint16_t>& ports) {
    std::string out;
    for (const auto port : ports) {
        out += (out.empty() ? "" : ", ") + std::to_string(port);
    }
    return out;
}

std::string reload_hint() {
    if (std::getenv("INVOCATION_ID") != nullptr) { // set by systemd for the units it starts
        return "run systemctl reload memguardd";
    }
    return "run kill -HUP " + std::to_string(::getpid());
}

void log_warnings(const Policy& policy) {
    for (const auto& warning : config_warnings(policy)) {
        log_event(warn, {Event::config, std::nullopt, {{"WARNING", "1"}}}, warning.located({}));
    }
}

void log_apply(const Report& report, Event why, bool config_invalid) {
    for (const auto& f : report.families) {
        std::string what = f.committed ? "applied " + std::to_string(f.drift.size()) + " change(s)"
                                       : std::string("already in place");
        if (f.fail_closed) {
            what =
                "FAILING CLOSED (" + f.closed_scope + "): could not apply the config: " + f.error;
        } else if (!f.error.empty()) {
            what = "NOT GUARDED: " + f.error;
        } else if (config_invalid) {
            what += " (fail-closed: loopback only)";
        }
        if (f.unlocked) {
            what += "; written without the xtables lock, which another program held while the "
                    "port was open";
        }
        log_event(!f.error.empty() ? err
                  : f.unlocked     ? warn
                                   : info,
                  {why,
                   f.family,
                   {{"CHANGES", std::to_string(f.drift.size())},
                    {"COMMITTED", f.committed ? "1" : "0"},
                    {"FAIL_CLOSED", f.fail_closed || config_invalid ? "1" : "0"}}},
                  std::string(to_string(f.family)).append(": ").append(what));
    }
}

void log_failure(const Report& report, std::chrono::seconds retry_after) {
    for (const auto& f : report.families) {
        if (f.error.empty()) {
            continue;
        }
        log_event(err, {Event::error, f.family, {{"FAIL_CLOSED", f.fail_closed ? "1" : "0"}}},
                  std::string(to_string(f.family)) + ": " +
                      (f.fail_closed ? "failing closed (" + f.closed_scope + ")"
                                     : "the port may be OPEN to everybody") +
                      ": " + f.error + "; trying again in " + std::to_string(retry_after.count()) +
                      " s");
    }
}

ConflictTracker::Verdict log_verdict(ConflictTracker& conflicts, const Report& report, bool drifted,
                                     bool timer) {
    const auto verdict = conflicts.pass(drifted, timer, ConflictTracker::clock::now());
    const std::string repairs = std::to_string(conflicts.repairs_in_conflict());
    auto log_conflict = [&](spdlog::level::level_enum level, const std::string& message) {
        log_event(level, {Event::conflict, std::nullopt, {{"REPAIRS", repairs}}}, message);
    };
    switch (verdict) {
    case ConflictTracker::Verdict::quiet_pass:
    case ConflictTracker::Verdict::suppressed:
        break;
    case ConflictTracker::Verdict::report_drift:
        log_repair(report);
        break;
    case ConflictTracker::Verdict::conflict_started:
        log_repair(report);
        log_conflict(err, "conflict: our rules were changed again in each of the last " + repairs +
                              " checks; another program is fighting memguardd "
                              "(a firewall manager, docker, a script?). Still repairing; "
                              "further repairs are summarised");
        break;
    case ConflictTracker::Verdict::conflict_summary:
        log_conflict(err, "conflict continues: " + repairs +
                              " repairs so far; latest: " + first_drift(report));
        break;
    case ConflictTracker::Verdict::conflict_ended:
        log_conflict(info, "conflict over after " + repairs +
                               " repairs: the rules held for a whole interval");
        break;
    }
    return verdict;
}

void log_revocation(const Pass& pass) {
    if (!pass.revocation_error.empty()) {
        log_event(err, {Event::error, std::nullopt, {}},
                  "could not cut the open connections of sources not allowed: " +
                      pass.revocation_error);
    }
    if (pass.revocation &&
        (pass.revocation->cut.deleted > 0 || !pass.revocation->revoked.empty())) {
        const Revocation& r = *pass.revocation;
        LogFields fields{Event::revoke,
                         std::nullopt,
                         {{"NETWORKS", first_few(r.revoked, r.revoked.size())},
                          {"CONNECTIONS", std::to_string(r.cut.deleted)}}};
        if (!r.labels.empty()) {
            fields.extra.emplace_back("LABEL", r.labels);
        }
        log_event(info, fields, r.describe());
    }
    if (!pass.retire_error.empty()) {
        log_event(err, {Event::error, std::nullopt, {}},
                  "could not take out the other backend's rules of ours: " + pass.retire_error);
    } else if (!pass.retired.empty()) {
        log_event(info, {Event::backend, std::nullopt, {}},
                  "took out the other backend's rules of ours: " + pass.retired);
    }
}

void RefusalLog::log(const Report& report) {
    std::set<std::string> now;
    for (const auto& f : report.families) {
        now.insert(f.refused.begin(), f.refused.end());
    }
    for (const auto& line : now) {
        if (!current_.contains(line)) {
            log_event(err, {Event::conflict, std::nullopt, {{"NOT_OURS", "1"}}}, line);
        }
    }
    for (const auto& line : current_) {
        if (!now.contains(line)) {
            log_event(info, {Event::conflict, std::nullopt, {}}, "resolved: " + line);
        }
    }
    current_ = std::move(now);
}

void ChangeLog::before_start(Guard& guard) {
    try {
        for (const auto& view : guard.read()) {
            if (view.has_ours()) {
                had_ours_.insert(view.family);
            }
        }
    } catch (const std::exception&) {
        had_ours_ = {Family::ipv4, Family::ipv6}; // unknown: what the pass finds is said
    }
}

void ChangeLog::log(const Policy& policy, const Report& report, Event why, bool config_invalid) {
    if (!std::exchange(started_, true)) {
        if (!config_invalid) { // else the fail-closed rules replace ours, as the journal says
            log_start_drift(report, had_ours_);
        }
    } else if (applied_ && !report.failed()) {
        log_allowlist_changes(*applied_, policy, why);
    }
    if (!report.failed()) {
        applied_ = policy;
    }
}

} // namespace memguard
