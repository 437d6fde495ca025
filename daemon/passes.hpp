// How the daemon tells the journal what a pass found and did: one place for the words, so the
// loop in service.cpp only decides when.
#pragma once

#include "conflict.hpp"
#include "guard.hpp"
#include "log.hpp"
#include "policy.hpp"

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace memguard {

// "1 port(s), 3 network(s) allowed, action drop".
std::string summary(const Policy& policy);
// "11211, 11311".
std::string join_ports(const std::vector<std::uint16_t>& ports);
// How to make the daemon read its config again: systemctl under systemd, kill -HUP otherwise.
std::string reload_hint();

// What config_warnings finds in a policy just loaded, one warning each.
void log_warnings(const Policy& policy);
// After a start or reload: one line per family with what was applied, failed, fell back.
void log_apply(const Report& report, Event why, bool config_invalid);
// After a pass that failed: why, and when it is tried again.
void log_failure(const Report& report, std::chrono::seconds retry_after);
// After a verify pass (`timer`: the verify timer's): the drift repaired, or the conflict
// tracker's summary of it. Returns the tracker's verdict.
ConflictTracker::Verdict log_verdict(ConflictTracker& conflicts, const Report& report, bool drifted,
                                     bool timer);

// The connections a pass cut (revocation.hpp), and the other backend's rules it took out.
void log_revocation(const Pass& pass);

// Objects under our names that are not ours, logged when first seen and when they go, not at
// every pass.
class RefusalLog {
public:
    void log(const Report& report);

private:
    std::set<std::string> current_;
};

// What each apply changed, said against the policy applied before it: the networks a reload
// allowed and revoked, per guard (allowlist_change.hpp). The first pass at start has no policy
// before it: what it found of ours that differs from the policy is drift, logged as a verify
// pass logs it (an element added by hand while the daemon was stopped).
class ChangeLog {
public:
    // Before the first pass: which families hold rules of ours already.
    void before_start(Guard& guard);
    // Before log_apply, after each apply pass. `config_invalid`: `policy` is the fail-closed one.
    void log(const Policy& policy, const Report& report, Event why, bool config_invalid);

private:
    bool started_ = false;
    std::set<Family> had_ours_;
    std::optional<Policy> applied_; // the last policy an apply put in place
};

} // namespace memguard
