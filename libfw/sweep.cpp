#include "sweep.hpp"

#include "netlink/addresses.hpp"
#include "network_index.hpp"

#include <algorithm>
#include <map>
#include <utility>
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

namespace {

// The allowlist each guarded (protocol, port) has, for judging one conntrack entry.
class GuardIndex {
public:
    explicit GuardIndex(const Policy& policy) {
        for (const auto& g : policy.guards) {
            allowed_.emplace_back(g.allow);
            for (const auto proto : g.protocols) {
                for (const auto port : g.ports) {
                    guard_of_.emplace(std::pair{proto, port}, allowed_.size() - 1);
                }
            }
        }
    }
    // The allowlist of the guard that holds the entry's (protocol, port); nullptr: none.
    [[nodiscard]] const NetworkIndex* allowed(const netlink::ConntrackTuple& t) const {
        const auto proto = t.protocol();
        const auto at = proto ? guard_of_.find({*proto, t.destination_port}) : guard_of_.end();
        return at == guard_of_.end() ? nullptr : &allowed_[at->second];
    }

private:
    std::vector<NetworkIndex> allowed_;
    std::map<std::pair<Protocol, std::uint16_t>, std::size_t> guard_of_;
};

} // namespace

netlink::SweepResult sweep_unallowed(const Policy& policy) {
    const NetworkIndex ours(local_sources());
    const bool keep_local = policy.allow_loopback;
    const GuardIndex guards(policy);
    return netlink::sweep({Family::ipv4, Family::ipv6}, all_protocols(policy), all_ports(policy),
                          [&](const netlink::ConntrackTuple& t) {
                              const NetworkIndex* allowed = guards.allowed(t);
                              return ours.contains(t.destination) && allowed != nullptr &&
                                     !allowed->contains(t.source) &&
                                     !(keep_local && ours.contains(t.source));
                          });
}

} // namespace memguard
