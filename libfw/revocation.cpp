#include "revocation.hpp"

#include "netlink/conntrack.hpp"

#include <algorithm>

namespace memguard {

std::vector<Network> revoked_sources(const Report& report) {
    std::vector<Network> sources;
    for (const auto& f : report.families) {
        sources.insert(sources.end(), f.revoked.begin(), f.revoked.end());
    }
    std::ranges::sort(sources);
    sources.erase(std::unique(sources.begin(), sources.end()), sources.end());
    return sources;
}

std::size_t revoke_connections(const std::vector<Network>& sources, const Policy& policy) {
    return netlink::revoke(sources, policy.protocols, policy.ports, policy.allow);
}

} // namespace memguard
