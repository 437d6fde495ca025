// The config's guards as `memguardd status` shows them. The running daemon answers the counts
// (status --json's daemon.guards), so that a status of an unchanged config loads nothing.
#pragma once

#include "policy.hpp"

#include <nlohmann/json.hpp>

namespace memguard {

// Per guard: name, ports, protocols, "allowed" (how many networks) and "labelled".
nlohmann::json guards_summary(const Policy& policy);
// guards_summary and, per guard, "allow": every entry, {"net", "label" (or null)}.
nlohmann::json guards_json(const Policy& policy);

} // namespace memguard
