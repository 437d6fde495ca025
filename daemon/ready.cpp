#include "ready.hpp"

#include <systemd/sd-daemon.h>

namespace memguard {

// READY=1 only once every family's port is closed: guarded as asked, or failing closed.
void ReadyNotifier::update(const DaemonState& state, const std::string& policy_summary) {
    const bool closed = state.all_closed();
    const std::string status =
        closed ? "Guarding " + policy_summary +
                     (state.fail_closed() ? " (FAIL-CLOSED; see memguardd status)"
                      : state.running().config_invalid
                          ? " (the config is INVALID; see memguardd status)"
                          : "")
               : "NOT GUARDED yet: " + state.first_error() + "; retrying";
    // Called after every verify pass: systemd hears only what changed.
    if (closed && !ready_) {
        sd_notify(0, ("READY=1\nSTATUS=" + status).c_str());
        ready_ = true;
    } else if (status != last_status_) {
        sd_notify(0, ("STATUS=" + status).c_str());
    }
    last_status_ = status;
}

} // namespace memguard
