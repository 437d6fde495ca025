// Logging for the daemon: journald with structured fields under systemd, stderr otherwise.
// Every change the daemon makes to the kernel goes through log_event: that is the audit trail.
#pragma once

#include "net.hpp"

#include <spdlog/common.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace memguard {

enum class Event {
    start,
    apply,
    drift,
    repair,
    conflict,
    reload,
    config,
    error,
    stop,
    revoke,
    blocked,
    backend,
    squatter,
    temporary,
};

// The event's MEMGUARD_EVENT name ("drift") and its stable journald MESSAGE_ID, from one table.
std::string_view to_string(Event e);
std::string_view message_id(Event e);

struct LogFields {
    Event event = Event::start;
    std::optional<Family> family;
    // Further MEMGUARD_<NAME>=value fields, e.g. {"DRIFT_KIND", "jump_shadowed"}.
    std::vector<std::pair<std::string, std::string>> extra;
};

// Picks journald when stderr is connected to the journal ($JOURNAL_STREAM), stderr otherwise.
void init_logging();

void log_event(spdlog::level::level_enum level, const LogFields& fields,
               const std::string& message);

} // namespace memguard
