// Every nftables rule of this network namespace, each reduced to what `memguardd doctor` asks
// of it: which protocol and destination ports it matches, where it DNATs or redirects to, and
// whether it is a strict reverse-path check. One dump, all families; read only. Every message
// goes through the same strict decoder as the backend's read-back (rule_message.hpp) before
// libnftnl sees it; the backend reads only memguardd's table, this reads everybody's.
#pragma once

#include "net.hpp"
#include "netlink/nat_rules.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace memguard::nft {

using netlink::NatForward;
using netlink::NatTarget;
using netlink::PortRange;

struct NftRule {
    std::string family; // "ip", "ip6", "inet", ...
    std::string table;
    std::string chain;
    // Matches, from `meta nfproto`, `meta l4proto` and a transport header's destination port
    // (`tcp dport`, `udp dport`, `th dport`) compared for equality or a range.
    std::optional<Family> nfproto;
    std::optional<std::uint8_t> l4proto; // IPPROTO_TCP, IPPROTO_UDP
    std::optional<PortRange> dport;
    // dnat/redirect (native, or an x_tables DNAT/REDIRECT target as iptables-nft writes it)
    std::optional<NatTarget> nat;
    // `fib saddr . iif oif missing`: the source is not routed back out of the interface the
    // packet came in on.
    bool reverse_path_missing = false;
    // Its verdict is drop, or it rejects (native or an x_tables REJECT): final, whatever another
    // table's chains accept.
    bool drops = false;
};

// One NFT_MSG_NEWRULE message (a dump reply) → the rule; nullopt when malformed (`error`, when
// given, says why) or another message. Expressions doctor does not read are skipped; a register
// loaded by one of them no longer counts as the port or protocol.
std::optional<NftRule> parse_nft_rule_message(std::span<const std::uint8_t> nlmsg,
                                              std::string* error = nullptr);

// Dumps every rule of every table. Throws NetlinkError.
std::vector<NftRule> nft_rules();

// The DNAT and REDIRECT rules among `rules` with a destination port match (nat_rules.hpp).
std::vector<NatForward> nft_nat_forwards(const std::vector<NftRule>& rules);

} // namespace memguard::nft
