// doctor's view of the nftables backend's rules beyond INPUT. What is ours is decided as
// everywhere in this backend: a table that carries our marker (TableModel::ours()); its rules
// are then read with the strict reader every table's rules go through (foreign_rules.hpp).
#include "foreign_rules.hpp"
#include "nft_backend.hpp"

#include <algorithm>

namespace memguard {

namespace {

// No `meta l4proto`: both protocols; another protocol than tcp or udp: none of ours.
std::vector<Protocol> protocols_of(std::optional<std::uint8_t> l4proto) {
    if (!l4proto) {
        return {Protocol::tcp, Protocol::udp};
    }
    const auto one = netlink::protocol_of(*l4proto);
    return one ? std::vector{*one} : std::vector<Protocol>{};
}

std::optional<Protocol> one_protocol(std::optional<std::uint8_t> l4proto) {
    return l4proto ? netlink::protocol_of(*l4proto) : std::nullopt;
}

// The families a rule of ours judges: its `meta nfproto`, else its chain's (guard4, guard6),
// else both (the inet table's base chains).
std::vector<Family> families_of(const nft::NftRule& rule) {
    if (rule.nfproto) {
        return {*rule.nfproto};
    }
    for (const auto f : both_families) {
        if (rule.chain == nft::guard_chain(f)) {
            return {f};
        }
    }
    return {Family::ipv4, Family::ipv6};
}

void add_rule(const nft::NftRule& rule, Coverage& out) {
    // chain prerouting: meta l4proto tcp th dport 11211 fib daddr type local jump guard4
    if (rule.chain == nft::kPreroutingChain && rule.dport) {
        out.before_nat.push_back({rule.nfproto, one_protocol(rule.l4proto), *rule.dport});
    }
    // chain forward: meta nfproto ipv4 meta l4proto tcp ct direction original ct status dnat
    //                ct original proto-dst 11211 jump guard4
    if (rule.chain == nft::kForwardChain && rule.dport) {
        out.dnat_forward.push_back({rule.nfproto, one_protocol(rule.l4proto), *rule.dport});
    }
    // chain guard4: meta l4proto udp th dport 11211 fib saddr . iif oif missing drop
    if (rule.reverse_path_missing) {
        for (const auto f : families_of(rule)) {
            for (const auto p : protocols_of(rule.l4proto)) {
                out.reverse_path.emplace_back(f, p);
            }
        }
    }
}

} // namespace

Coverage NftBackend::coverage() {
    const nft::Snapshot snap = keeper_.read();
    std::vector<std::string> ours;
    for (const auto* table : snap.tables()) {
        if (*table && (*table)->ours()) {
            ours.push_back((*table)->name);
        }
    }
    Coverage out;
    for (const auto& name : ours) {
        out.tables.push_back("inet " + name);
    }
    for (const auto& rule : nft::nft_rules()) {
        if (rule.family == "inet" && std::ranges::count(ours, rule.table) > 0) {
            add_rule(rule, out);
        }
    }
    return out;
}

} // namespace memguard
