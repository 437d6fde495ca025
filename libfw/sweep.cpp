#include "sweep.hpp"

#include "netlink/addresses.hpp"

#include <utility>

namespace memguard {

std::vector<Network> local_sources() {
    std::vector<Network> sources = netlink::local_addresses();
    sources.push_back(Network{.family = Family::ipv4, .addr = {127}, .prefix = 8});
    sources.push_back(Network{.family = Family::ipv6,
                              .addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
                              .prefix = 128});
    return sources;
}

SweepJudge::SweepJudge(const Policy& policy, std::span<const Network> local)
    : local_(local), keep_local_(policy.allow_loopback) {
    for (const auto& g : policy.guards) {
        allowed_.emplace_back(g.allow);
        for (const auto proto : g.protocols) {
            for (const auto port : g.ports) {
                guard_of_.emplace(std::pair{proto, port}, allowed_.size() - 1);
            }
        }
    }
}

bool SweepJudge::refuses(const netlink::ConntrackTuple& t) const {
    const auto proto = t.protocol();
    const auto guard = proto ? guard_of_.find({*proto, t.destination_port}) : guard_of_.end();
    if (guard == guard_of_.end()) {
        return false; // no guard of ours holds that port
    }
    if (!t.dnat && !local_.contains(t.destination)) {
        return false; // routed through this host to another, as its client asked
    }
    if (keep_local_ && local_.contains(t.source)) {
        return false;
    }
    return !allowed_[guard->second].contains(t.source);
}

netlink::SweepResult sweep_unallowed(const Policy& policy) {
    const SweepJudge judge(policy, local_sources());
    return netlink::sweep({Family::ipv4, Family::ipv6}, all_protocols(policy), all_ports(policy),
                          [&](const netlink::ConntrackTuple& t) { return judge.refuses(t); });
}

} // namespace memguard
