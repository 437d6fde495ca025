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
    return p;
}

} // namespace memguard
