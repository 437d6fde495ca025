// Desired values for the nftables tests, built the way the daemon builds them: guards in a
// Policy, split by family with desired_state.
#pragma once

#include "desired.hpp"

#include "catch.hpp"

#include <string>
#include <vector>

namespace test {

// A guard with these ports and protocols, the networks in `allow` and no reverse-path check
// unless asked for.
inline memguard::GuardSpec guard(std::string name, std::vector<std::uint16_t> ports,
                                 std::vector<memguard::Protocol> protocols,
                                 const std::vector<std::string>& allow = {},
                                 std::vector<memguard::Protocol> reverse_path = {}) {
    memguard::GuardSpec g;
    g.name = std::move(name);
    g.ports = std::move(ports);
    g.protocols = std::move(protocols);
    g.reverse_path = std::move(reverse_path);
    for (const std::string& text : allow) {
        const auto net = memguard::parse_network(text);
        REQUIRE(net);
        g.allow.push_back(*net);
    }
    return g;
}

// Gives the network `net` of `g` the label `label`.
inline void label(memguard::GuardSpec& g, const std::string& net, const std::string& text) {
    const auto n = memguard::parse_network(net);
    REQUIRE(n);
    g.labels[*n] = text;
}

// Both families with these guards and the policy's defaults (loopback, established, drop).
inline memguard::Desired desired_of(std::vector<memguard::GuardSpec> guards) {
    memguard::Policy policy;
    policy.guards = std::move(guards);
    return memguard::desired_state(policy);
}

// The usual one guard: "default", port 11211, tcp and udp, these networks.
inline memguard::Desired one_guard(const std::vector<std::string>& allow = {},
                                   std::vector<memguard::Protocol> reverse_path = {}) {
    return desired_of({guard("default", {11211}, {memguard::Protocol::tcp, memguard::Protocol::udp},
                             allow, std::move(reverse_path))});
}

} // namespace test
