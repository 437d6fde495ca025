// Where this network namespace forwards ports by destination NAT, for `memguardd doctor`: the
// DNAT and REDIRECT rules of the legacy nat tables (IPv4, IPv6) and of every nftables table, as
// the values both readers share.
// Docker's `-p 11211:11211` is one: its packets are DNATed in prerouting and routed through
// FORWARD, so an INPUT rule never sees them. Read only; nothing here writes to the kernel.
#pragma once

#include "net.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace memguard::netlink {

struct PortRange {
    std::uint16_t min = 0;
    std::uint16_t max = 0;
    [[nodiscard]] bool contains(std::uint16_t port) const { return min <= port && port <= max; }
    [[nodiscard]] std::string to_string() const; // "11211", "11400-11410"
    friend bool operator==(const PortRange&, const PortRange&) = default;
};

// Where a DNAT or REDIRECT sends a packet.
struct NatTarget {
    std::string kind;               // "DNAT" or "REDIRECT" (to this host)
    std::optional<Network> address; // DNAT to this address; nullopt: the address is unchanged
    std::optional<PortRange> port;  // nullopt: the destination port is unchanged
    friend bool operator==(const NatTarget&, const NatTarget&) = default;
};

// One rule that forwards a destination port: `-p tcp --dport 11211 -j DNAT --to 172.17.0.2`.
struct NatForward {
    std::string where;                // "nft table ip nat, chain DOCKER", "iptables-legacy ..."
    std::optional<Family> family;     // nullopt: IPv4 and IPv6 (an inet table's redirect)
    std::optional<Protocol> protocol; // nullopt: tcp and udp (nft `th dport`)
    PortRange dport;                  // the destination ports it matches
    NatTarget to;
    // The destination port a packet to `port` (one of `dport`) has after the rule.
    [[nodiscard]] std::uint16_t port_after(std::uint16_t port) const;
    // Where a packet to `port` goes: "172.17.0.2:11211", "[fd00::2]:11300", "this host:11300"
    [[nodiscard]] std::string destination(std::uint16_t port) const;
    friend bool operator==(const NatForward&, const NatForward&) = default;
};

// The payload of an x_tables DNAT or REDIRECT target (what iptables-legacy stores in the entry,
// and iptables-nft in an nft `target` expression) → where it sends packets; nullopt for another
// target, an unknown revision or a payload of the wrong size. Revision 0 of IPv4 carries
// nf_nat_ipv4_multi_range_compat, the others nf_nat_range or nf_nat_range2
// (linux/netfilter/nf_nat.h; iptables' libxt_DNAT.c, libxt_REDIRECT.c).
std::optional<NatTarget> decode_nat_target(std::string_view name, unsigned revision, Family family,
                                           std::span<const std::uint8_t> info);

// IPPROTO_TCP, IPPROTO_UDP → the protocol; nullopt for any other.
std::optional<Protocol> protocol_of(std::uint8_t ipproto);

// Where they are found: legacy_nat_forwards() (legacy/iptc/foreign_rules.hpp) and
// nft_nat_forwards() (nft/foreign_rules.hpp).

} // namespace memguard::netlink
