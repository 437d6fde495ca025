// Shared helpers for the unit tests: printable values in Catch2's failure messages, and
// shorthands for building policies and rules.
#pragma once

#include "catch.hpp"

#include "legacy/kernel_view.hpp"
#include "legacy/rule.hpp"
#include "legacy/ruleset.hpp"
#include "net.hpp"
#include "policy.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace Catch {
template <> struct StringMaker<memguard::Network> {
    static std::string convert(const memguard::Network& n) {
        return std::string(memguard::to_string(n.family)) + " " + n.to_string() + " (prefix " +
               std::to_string(n.prefix) + ")";
    }
};
template <> struct StringMaker<std::optional<memguard::Network>> {
    static std::string convert(const std::optional<memguard::Network>& n) {
        return n ? StringMaker<memguard::Network>::convert(*n) : "nullopt";
    }
};
template <> struct StringMaker<memguard::Rule> {
    static std::string convert(const memguard::Rule& r) {
        return std::string(memguard::to_string(r.family)) + " \"" + memguard::to_string(r) + "\"";
    }
};
template <> struct StringMaker<std::optional<memguard::Rule>> {
    static std::string convert(const std::optional<memguard::Rule>& r) {
        return r ? StringMaker<memguard::Rule>::convert(*r) : "nullopt";
    }
};
template <> struct StringMaker<memguard::GuardSpec> {
    static std::string convert(const memguard::GuardSpec& g) {
        std::string out = "{name: " + g.name + ", ports:";
        for (const auto port : g.ports) {
            out += " " + std::to_string(port);
        }
        out += ", protocols:";
        for (const auto proto : g.protocols) {
            out += " " + std::string(memguard::to_string(proto));
        }
        out += ", allow:";
        for (const auto& n : g.allow) {
            out += " " + n.to_string();
            if (const auto label = g.labels.find(n); label != g.labels.end()) {
                out += " (\"" + label->second + "\")";
            }
        }
        out += ", reverse_path:";
        for (const auto proto : g.reverse_path) {
            out += " " + std::string(memguard::to_string(proto));
        }
        return out + "}";
    }
};
template <> struct StringMaker<memguard::Policy> {
    static std::string convert(const memguard::Policy& p) {
        std::string out = "{guards:";
        for (const auto& g : p.guards) {
            out += " " + StringMaker<memguard::GuardSpec>::convert(g);
        }
        out += std::string(", allow_loopback: ") + (p.allow_loopback ? "true" : "false");
        out += std::string(", accept_established: ") + (p.accept_established ? "true" : "false");
        out += ", action: " + std::string(memguard::to_string(p.action));
        out += ", verify_interval_s: " + std::to_string(p.verify_interval.count());
        out += std::string(", log_blocked: ") + (p.log_blocked ? "true" : "false");
        out += ", log_group: " + std::to_string(p.log_group);
        out += ", log_rate_per_s: " + std::to_string(p.log_rate_per_s) + "}";
        return out;
    }
};
} // namespace Catch

namespace unit {

// parse_network for text the test knows is valid; fails the test otherwise.
inline memguard::Network net(std::string_view text) {
    const auto n = memguard::parse_network(text);
    INFO("network literal: " << text);
    REQUIRE(n.has_value());
    return *n;
}

inline std::vector<std::string> specs(const std::vector<memguard::Rule>& rules) {
    std::vector<std::string> out;
    for (const auto& r : rules) {
        out.push_back(memguard::to_string(r));
    }
    return out;
}

// The target name libiptc reports for a rule of ours.
inline std::string target_of(const memguard::Rule& r) {
    switch (r.verdict) {
    case memguard::Verdict::accept:
        return "ACCEPT";
    case memguard::Verdict::drop:
        return "DROP";
    case memguard::Verdict::reject:
        return "REJECT";
    case memguard::Verdict::jump_memguard:
        return "MEMGUARD";
    case memguard::Verdict::nflog:
        return "NFLOG";
    }
    return "?";
}

// What Table::read() would report for a rule that is in the kernel.
inline memguard::KernelRule kernel(const memguard::Rule& r) {
    memguard::KernelRule k;
    k.rule = r;
    k.comment = r.comment;
    k.target = target_of(r);
    k.packets = 7;
    k.bytes = 700;
    return k;
}

// A guard with these ports, protocols and networks (reverse-path check: the default, udp, where
// the guard guards udp).
inline memguard::GuardSpec guard(std::string name, std::vector<std::uint16_t> ports,
                                 std::vector<memguard::Protocol> protocols,
                                 std::vector<memguard::Network> allow) {
    memguard::GuardSpec g;
    g.name = std::move(name);
    g.ports = std::move(ports);
    g.reverse_path.clear();
    for (const auto p : protocols) {
        if (p == memguard::Protocol::udp) {
            g.reverse_path.push_back(p);
        }
    }
    g.protocols = std::move(protocols);
    g.allow = std::move(allow);
    return g;
}

// The one guard of a policy made in the flat format.
inline memguard::GuardSpec& only_guard(memguard::Policy& p) {
    REQUIRE(p.guards.size() == 1);
    return p.guards.front();
}

// The policy most unit tests start from: the shipped defaults with one IPv4 network.
inline memguard::Policy seed_policy() {
    memguard::Policy p;
    p.guards = {guard(std::string(memguard::default_guard_name), {11211},
                      {memguard::Protocol::tcp, memguard::Protocol::udp}, {net("192.168.1.0/24")})};
    p.allow_loopback = true;
    p.accept_established = true;
    p.action = memguard::Action::drop;
    p.verify_interval = std::chrono::seconds(5);
    return p;
}

// The policy of config/memguard.json: the private ranges of both families.
inline memguard::Policy shipped_policy() {
    memguard::Policy p = seed_policy();
    p.guards.front().allow = {net("10.0.0.0/8"), net("172.16.0.0/12"), net("192.168.0.0/16"),
                              net("fc00::/7")};
    return p;
}

} // namespace unit
