// `memguardd clients`: who talks to the guarded ports right now, and what the config would do
// with each of them. Read-only.
#pragma once

#include "client_groups.hpp"
#include "policy.hpp"
#include "temporary.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace memguard {

// Lists the clients of the config's ports (tcp connections and udp flows), grouped by the
// allowlist entry that lets them in, or by their /24 or /64 when none does; `json` for scripts.
// An unreadable or invalid config is reported on stderr and judged as an empty allowlist (what a
// daemon failing closed enforces). Exit status 0, also when some would be blocked; 1 when the
// kernel could not be asked (udp flows need root). The running daemon's temporary entries
// (`temporary`, as status reports them) count as the allow entries they are.
int print_clients(const std::string& config_path, bool json, const TemporaryList& temporary = {});

// The table, one row per group, and the summary line under it; one plain line when nobody talks
// to the ports.
std::string clients_text(const Policy& policy, const std::vector<ClientGroup>& groups);

// {"ports": [...], "config": PATH, "groups": [{"network", "verdict", "clients", "tcp", "udp",
// "addresses"}]}, every address of each group listed.
nlohmann::ordered_json clients_json(const Policy& policy, const std::string& config_path,
                                    const std::vector<ClientGroup>& groups);

} // namespace memguard
