// What systemd hears of the daemon's standing (sd_notify): READY=1 once every family's port is
// closed, and STATUS= whenever its text changes.
#pragma once

#include "daemon_state.hpp"

#include <string>

namespace memguard {

class ReadyNotifier {
public:
    // After every pass: READY=1 the first time all is closed (since the start or a reload),
    // STATUS= when it says something new. `policy_summary`: summary(policy in force).
    void update(const DaemonState& state, const std::string& policy_summary);
    // A reload ends with READY=1 again (systemd waits for it after RELOADING=1).
    void reloaded() { ready_ = false; }

private:
    bool ready_ = false;
    std::string last_status_; // the last STATUS= sent to systemd
};

} // namespace memguard
