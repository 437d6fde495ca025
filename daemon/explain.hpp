// `memguardd explain ADDRESS [PORT[/PROTO]]`: why one client can or cannot reach the guarded
// ports. Per guard and per group of its ports and protocols met the same way: the config's
// verdict and the entry behind it, what the kernel holds for the address (and a difference
// between the two), what else decides first (other tools' rules, the reverse-path check), what
// the running daemon saw blocked from it, and its open connections. Read-only.
#pragma once

#include "cli.hpp"
#include "client_groups.hpp"
#include "coverage.hpp"
#include "kernel_match.hpp"
#include "policy.hpp"
#include "recent_blocked.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace memguard {

// What was asked: one address, and maybe one port (and protocol).
struct ExplainQuery {
    Network address; // full-length
    std::optional<std::uint16_t> port;
    std::optional<Protocol> protocol;
};

// The command line's ADDRESS and PORT[/PROTO] (`service`, "" for all). Throws
// std::invalid_argument saying what is wrong with them. An IPv4-mapped IPv6 address is taken as
// the IPv4 address it carries (iptables, not ip6tables, judges its packets).
ExplainQuery parse_explain_query(const std::string& address, const std::string& service);

// What the kernel holds, read through the backend in use.
struct KernelFacts {
    std::string backend; // "nftables", "iptables-legacy"
    std::optional<KernelExplain> found;
    std::optional<std::vector<std::uint16_t>> guarded_ports; // Backend::guarded_ports
    std::optional<Coverage> coverage;                        // for the reverse-path check
    std::vector<std::string> unreadable;                     // what could not be read, and why
};

// Everything explain gathers; pure from here on.
struct ExplainFacts {
    Policy policy;
    std::string config_path;
    ExplainQuery query;
    std::vector<Network> local; // local_sources(): what allow_loopback lets in
    KernelFacts kernel;
    RecentBlocked recent;
    std::optional<std::vector<Contact>> contacts; // the address's; nullopt: could not be read
    std::string contacts_error;
};

// One guard's ports and protocols that the address meets the same way.
struct ExplainGroup {
    std::string guard;
    std::vector<ServicePort> services;
    ClientVerdict verdict = ClientVerdict::blocked;
    std::optional<Network> entry; // allowed: the narrowest allowlist entry holding the address
    std::string label;
    std::optional<ListedAt> listed_at;
    // nullopt: the kernel could not be read. false: no rule of ours guards these ports.
    std::optional<bool> guarded;
    std::vector<KernelMatch> kernel; // the elements and rules of ours that let it in
    std::vector<RuleAhead> ahead;    // others' rules that decide first

    [[nodiscard]] bool allowed() const { return verdict != ClientVerdict::blocked; }
    // nullopt when the kernel could not be read; an unguarded port lets everybody in.
    [[nodiscard]] std::optional<bool> kernel_accepts() const {
        return guarded ? std::optional(!*guarded || !kernel.empty()) : std::nullopt;
    }
};

// The groups, guard by guard in the config's order, for the query's ports; {} when no guard
// has the port asked for.
std::vector<ExplainGroup> explain_groups(const ExplainFacts& facts);

std::string explain_text(const ExplainFacts& facts, const std::vector<ExplainGroup>& groups);
nlohmann::ordered_json explain_json(const ExplainFacts& facts,
                                    const std::vector<ExplainGroup>& groups);

// 0: allowed by the config on every port asked; 1: blocked on some; 2: bad address or port.
int run_explain(const Options& options);

} // namespace memguard
