#include "desired.hpp"

#include <algorithm>

namespace memguard {

FamilyDesired desired_family(const Policy& policy, Family family) {
    FamilyDesired out;
    out.family = family;
    out.allow_loopback = policy.allow_loopback;
    out.accept_established = policy.accept_established;
    out.action = policy.action;
    out.log_blocked = policy.log_blocked;
    out.log_group = policy.log_group;
    out.log_rate_per_s = policy.log_rate_per_s;
    out.guards.clear();
    for (const auto& spec : policy.guards) {
        GuardSpec g = spec;
        g.allow.clear();
        g.labels.clear();
        for (const auto& net : spec.allow) {
            if (net.family == family) {
                g.allow.push_back(net.canonical());
                if (const auto label = spec.labels.find(net); label != spec.labels.end()) {
                    g.labels.emplace(net.canonical(), label->second);
                }
            }
        }
        out.guards.push_back(std::move(g));
    }
    return out;
}

Desired desired_state(const Policy& policy) {
    return {desired_family(policy, Family::ipv4), desired_family(policy, Family::ipv6)};
}

Desired fail_closed_state(const std::vector<std::uint16_t>& ports) {
    return desired_state(fail_closed_policy(ports));
}

} // namespace memguard
