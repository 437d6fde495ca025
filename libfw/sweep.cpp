#include "sweep.hpp"

#include "netlink/addresses.hpp"
#include "network_index.hpp"

#include <vector>

namespace memguard {

std::vector<Network> local_sources() {
    std::vector<Network> sources = netlink::local_addresses();
    sources.push_back(Network{.family = Family::ipv4, .addr = {127}, .prefix = 8});
    sources.push_back(Network{.family = Family::ipv6,
                              .addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
                              .prefix = 128});
    return sources;
}

netlink::SweepResult sweep_unallowed(const Policy& policy) {
    const std::vector<Network> local = local_sources();
    const NetworkIndex allowed(policy.allow);
    const NetworkIndex ours(local);
    const NetworkIndex keep = policy.allow_loopback ? ours : NetworkIndex();
    return netlink::sweep({Family::ipv4, Family::ipv6}, policy.protocols, policy.ports, allowed,
                          keep, ours);
}

} // namespace memguard
