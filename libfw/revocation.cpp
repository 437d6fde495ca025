#include "revocation.hpp"

#include "netlink/conntrack.hpp"

#include <algorithm>

namespace memguard {

std::vector<Network> revoked_sources(const Report& report) {
    std::vector<Network> sources;
    for (const auto& f : report.families) {
        for (const auto& net : f.revoked) {
            if (std::ranges::find(sources, net) == sources.end()) {
                sources.push_back(net);
            }
        }
    }
    return sources;
}

std::size_t revoke_connections(const std::vector<Network>& sources, const Policy& policy) {
    return netlink::revoke(sources, policy.protocols, policy.ports, policy.allow);
}

} // namespace memguard
