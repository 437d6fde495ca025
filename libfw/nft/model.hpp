// Our nftables table as plain data: what the kernel holds (decoded from a dump) and what we want
// (planned from Desired) have the same shape, so comparing them is comparing values.
#pragma once

#include "intervals.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memguard::nft {

inline constexpr std::string_view kTableName = "memguard";
// Where we fail closed when `inet memguard` belongs to somebody else; in the second name when
// the first is somebody else's too.
inline constexpr std::string_view kClosedTableName = "memguard_closed";
inline constexpr std::string_view kClosedAltTableName = "memguard_closed_alt";
// The table comment that makes a table ours.
inline constexpr std::string_view kTableMarker = "memguardd";
// The comment on our chains, sets and rules (as `-m comment --comment memguard` in iptables).
inline constexpr std::string_view kComment = "memguard";
// NFT_TABLE_F_OWNER is in bookworm's linux/netfilter/nf_tables.h; NFT_TABLE_F_PERSIST (kernel 6.9)
// is not: the kernel keeps an owned table when its owner's socket closes.
inline constexpr std::uint32_t kTableFlagOwner = 0x2;
inline constexpr std::uint32_t kTableFlagPersist = 0x4;

struct RuleModel {
    std::string chain;
    std::string key;  // the expressions in libnftnl's debug form, counters without their values
    std::string text; // nft-like, for a person: "ip saddr @allow4 accept"
    std::string comment;
    std::optional<std::uint16_t> dport;  // `th dport N` in it
    std::optional<std::uint8_t> l4proto; // `meta l4proto P` in it (IPPROTO_TCP, IPPROTO_UDP)
    std::string set;                     // the set it looks the source up in, if any
    std::string jump;                    // the chain it jumps to, if any
    std::size_t matches = 0;             // cmp and lookup expressions: its conditions
    bool counted = false;                // it has a counter
    bool accepts = false;                // its verdict is accept
    bool blocks = false;                 // its verdict is drop, or it rejects
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    std::uint64_t handle = 0;
};

struct ChainModel {
    std::string name;
    std::string type;                  // "filter" for a base chain, "" otherwise
    std::optional<std::uint32_t> hook; // NF_INET_LOCAL_IN, ...
    std::int32_t priority = 0;
    std::uint32_t policy = 1; // NF_ACCEPT
    std::string comment;
    std::vector<RuleModel> rules;
};

struct SetModel {
    std::string name;
    Family family = Family::ipv4;
    std::uint32_t key_type = 0; // nft's datatype: 7 ipv4_addr, 8 ipv6_addr
    std::uint32_t key_len = 0;
    std::uint32_t flags = 0; // NFT_SET_INTERVAL
    std::string comment;
    std::vector<Range> ranges; // sorted, merged
    // The comment (a network's label) on the start element of a range, by the range's first
    // address; only labelled ranges are here.
    std::map<Address, std::string> labels;
};

struct TableModel {
    std::string name;
    std::uint32_t flags = 0;
    std::optional<std::uint32_t> owner; // the owning socket's portid (NFTA_TABLE_OWNER)
    std::string comment;
    std::vector<ChainModel> chains;
    std::vector<SetModel> sets;

    [[nodiscard]] bool ours() const { return comment == kTableMarker; }
    [[nodiscard]] const ChainModel* chain(std::string_view n) const;
    [[nodiscard]] const SetModel* set(std::string_view n) const;
    [[nodiscard]] ChainModel* chain(std::string_view n);
    [[nodiscard]] SetModel* set(std::string_view n);
};

// The chain of a family: guard4, guard6. Every guard's rules are in it.
std::string guard_chain(Family family);
// The allowlist set of a family and guard: allow4/allow6 for the only guard or the one named
// "default" (`guard` empty), allow4-NAME/allow6-NAME for any other.
std::string allow_set(Family family, std::string_view guard = {});
inline constexpr std::string_view kInputChain = "input";
// Sees the packets a DNAT (Docker's `-p`) would send through forward, before the DNAT.
inline constexpr std::string_view kPreroutingChain = "prerouting";
// Sees every connection DNATed from a guarded port, whatever address its client asked at.
inline constexpr std::string_view kForwardChain = "forward";

} // namespace memguard::nft
