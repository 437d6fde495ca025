#include "policy.hpp"

namespace memguard {

std::string_view to_string(Protocol p) {
    return p == Protocol::tcp ? "tcp" : "udp";
}
std::string_view to_string(Action a) {
    return a == Action::drop ? "drop" : "reject";
}

Policy fail_closed_policy() {
    Policy p;
    p.allow.clear();
    p.allow_loopback = true;
    p.accept_established = false;
    p.action = Action::drop;
    return p;
}

} // namespace memguard
