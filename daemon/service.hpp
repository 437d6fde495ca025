// The daemon: one event loop over signalfd and timerfds with epoll. It calls the Guard,
// never libiptc; it logs each change once; it tells systemd where it stands (sd_notify).
#pragma once

#include <string>

namespace memguard {

// Runs until SIGTERM/SIGINT; returns the exit status.
int run_service(const std::string& config_path);

} // namespace memguard
