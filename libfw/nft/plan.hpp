// Desired → the objects of our table, as libnftnl objects ready to go into a batch: the base
// chains `input`, `prerouting` and `forward`, per family a regular chain guardN and an interval set
// per guard (allowN for the only one), and the rules. Internal to libfw/nft.
#pragma once

#include "desired.hpp"
#include "handles.hpp"
#include "model.hpp"

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace memguard::nft {

struct PlannedChain {
    std::string name;
    // A base chain: type filter hook HOOK priority PRIORITY; policy accept. None: a regular chain.
    std::optional<std::uint32_t> hook;
    std::int32_t priority = 0;
};

struct PlannedSet {
    std::string name;
    Family family = Family::ipv4;
    std::uint32_t id = 0; // NFTNL_SET_ID: how a rule in the same batch names it
    std::vector<Range> ranges;
    RangeLabels labels; // the comments of start elements
};

struct PlannedRule {
    std::string chain;
    RulePtr rule;
};

struct TablePlan {
    std::string table;
    std::vector<PlannedChain> chains; // in the order they must be created
    std::vector<PlannedSet> sets;
    std::vector<PlannedRule> rules; // in order within each chain
};

inline constexpr std::int32_t kInputPriority = -10; // filter - 10: before the usual filter chains
// dstnat - 10 (NF_IP_PRI_NAT_DST = -100): after conntrack (-200), before any DNAT, so the packet
// still has this host's destination address.
inline constexpr std::int32_t kPreroutingPriority = -110;
// mangle (NF_IP_PRI_MANGLE = -150), as legacy's mangle FORWARD: before Docker's and firewalld's
// filter forward chains (0, 10). A drop here is final whatever they accept; our accept ends only
// this chain, so theirs still judge an allowed client.
inline constexpr std::int32_t kForwardPriority = -150;

TablePlan plan_table(std::string_view table, const Desired& desired);

// The plan as the kernel would dump it, for comparing.
TableModel model_of(const TablePlan& plan);

// What we enforce when the wanted rules cannot be had: loopback only, no allowlist, drop, on
// `desired`'s ports, the default port 11211 and every port in `guarded`.
Desired fail_closed_desired(const Desired& desired, std::span<const std::uint16_t> guarded);

} // namespace memguard::nft
