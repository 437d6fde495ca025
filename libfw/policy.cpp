#include "policy.hpp"

#include <algorithm>

namespace memguard {

std::string_view to_string(Protocol p) {
    return p == Protocol::tcp ? "tcp" : "udp";
}
std::string_view to_string(Action a) {
    return a == Action::drop ? "drop" : "reject";
}

Policy fail_closed_policy(const std::vector<std::uint16_t>& also) {
    Policy p;
    for (const auto port : also) {
        if (std::ranges::find(p.ports, port) == p.ports.end()) {
            p.ports.push_back(port);
        }
    }
    p.allow.clear();
    p.allow_loopback = true;
    p.accept_established = false;
    p.action = Action::drop;
    p.reverse_path.clear(); // loopback only: nothing a forged source could pass as
    GuardSpec closed;
    closed.ports = p.ports;
    closed.reverse_path.clear();
    p.guards = {closed};
    return p;
}

namespace {
template <class T> void add_new(std::vector<T>& to, const std::vector<T>& from) {
    for (const auto& v : from) {
        if (std::ranges::find(to, v) == to.end()) {
            to.push_back(v);
        }
    }
}
} // namespace

void flatten_guards(Policy& policy) {
    policy.ports.clear();
    policy.protocols.clear();
    policy.allow.clear();
    policy.reverse_path.clear();
    for (const auto& g : policy.guards) {
        add_new(policy.ports, g.ports);
        add_new(policy.protocols, g.protocols);
        add_new(policy.allow, g.allow);
        add_new(policy.reverse_path, g.reverse_path);
    }
}

} // namespace memguard
