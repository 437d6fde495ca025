// Which nftables tables exist: on Debian 12 the plain `iptables` command (iptables-nft) writes
// there, so an admin reading `iptables -L` sees those rules and not ours. For `doctor`.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace memguard::netlink {

struct NftTable {
    std::string family;       // "ip", "ip6", "inet", "arp", "bridge", "netdev"
    std::string name;         // e.g. "filter"
    std::uint32_t chains = 0; // NFTA_TABLE_USE: the number of chains in it
    friend bool operator==(const NftTable&, const NftTable&) = default;
};

// An nfgen_family (NFPROTO_*) as `nft list ruleset` names it: "ip", "ip6", "inet", ...
std::string nft_family_name(std::uint32_t family);

// One NFT_MSG_NEWTABLE message (a dump reply) → the table, or nullopt when malformed.
std::optional<NftTable> parse_nft_table_message(std::span<const std::uint8_t> nlmsg);

// Dumps every nftables table of this network namespace. Throws NetlinkError.
std::vector<NftTable> nft_tables();

} // namespace memguard::netlink
