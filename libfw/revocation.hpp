// When the allowlist shrinks, connections from the networks that lost access are cut now
// (their conntrack entries deleted), not when they end: the RELATED,ESTABLISHED rule would
// otherwise keep them open.
#pragma once

#include "guard.hpp"
#include "policy.hpp"

#include <cstddef>
#include <vector>

namespace memguard {

// The sources `report` says our chain accepted before its pass and no longer does.
std::vector<Network> revoked_sources(const Report& report);

// Deletes the conntrack entries from `sources` (revoked_sources) to our ports and protocols,
// sparing any source the policy still allows; returns how many. Throws netlink::NetlinkError.
std::size_t revoke_connections(const std::vector<Network>& sources, const Policy& policy);

} // namespace memguard
