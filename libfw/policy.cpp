#include "policy.hpp"

#include <algorithm>
#include <set>

namespace memguard {

std::string_view to_string(Action a) {
    return a == Action::drop ? "drop" : "reject";
}

Policy fail_closed_policy(const std::vector<std::uint16_t>& also) {
    Policy p;
    GuardSpec& closed = p.guards.front();
    for (const auto port : also) {
        if (std::ranges::find(closed.ports, port) == closed.ports.end()) {
            closed.ports.push_back(port);
        }
    }
    closed.allow.clear();
    closed.reverse_path.clear(); // loopback only: nothing a forged source could pass as
    p.allow_loopback = true;
    p.accept_established = false;
    p.action = Action::drop;
    return p;
}

namespace {

// In first-seen order; the set makes it O(n log n) for an allowlist of 100,000 networks.
template <class T> std::vector<T> every(const Policy& policy, std::vector<T> GuardSpec::*field) {
    std::vector<T> out;
    std::set<T> seen;
    for (const auto& g : policy.guards) {
        for (const auto& v : g.*field) {
            if (seen.insert(v).second) {
                out.push_back(v);
            }
        }
    }
    return out;
}

} // namespace

std::vector<std::uint16_t> all_ports(const Policy& policy) {
    return every(policy, &GuardSpec::ports);
}
std::vector<Protocol> all_protocols(const Policy& policy) {
    return every(policy, &GuardSpec::protocols);
}
std::vector<Network> all_networks(const Policy& policy) {
    return every(policy, &GuardSpec::allow);
}

} // namespace memguard
