// One netfilter rule as plain data: what tests compare, `diff` prints and the log records.
// Only iptc/entry.cpp turns it into kernel bytes.
#pragma once

#include "net.hpp"
#include "policy.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace memguard {

inline constexpr std::string_view chain_name = "MEMGUARD";
inline constexpr std::string_view input_chain = "INPUT";
// The mangle table's chains we write at the top of (the DNAT path and the reverse-path check).
inline constexpr std::string_view forward_chain = "FORWARD";
inline constexpr std::string_view prerouting_chain = "PREROUTING";
inline constexpr std::string_view comment_tag = "memguard";
// A labelled network's accept rule carries "memguard: <label>" instead of comment_tag.
inline constexpr std::string_view label_prefix = "memguard: ";

// The comment of a rule of ours: comment_tag, or with a label `memguard: <label>`.
std::string our_comment(std::string_view label = {});
// Whether a rule's comment marks it as ours: exactly "memguard", or "memguard: " and anything.
// ("memguardX" or "memguard:x" are somebody else's.)
bool is_our_comment(std::string_view comment);

// The ipset hash:net set that holds a guard's allowlist once it is too long for one rule per
// network (see ruleset.hpp): memguard4/memguard6 for the guard "default", else
// memguard4-<guard>/memguard6-<guard> (guard names are at most 20 characters, so at most 30).
std::string set_name(Family family, std::string_view guard = default_guard_name);
// Whether `name` is one set_name of the family could give (what a rule of ours may match on).
bool is_our_set_name(Family family, std::string_view name);

// The kinds of destination address `-m addrtype --dst-type` names, as bits. The values are the
// kernel's XT_ADDRTYPE_* (1 << RTN_*), checked in iptc/entry_layout.hpp.
namespace addr_type {
inline constexpr std::uint16_t local = 1U << 2;     // one of this host's own addresses
inline constexpr std::uint16_t broadcast = 1U << 3; // a subnet's broadcast, 255.255.255.255
inline constexpr std::uint16_t anycast = 1U << 4;
inline constexpr std::uint16_t multicast = 1U << 5;
inline constexpr std::uint16_t all = local | broadcast | anycast | multicast;
} // namespace addr_type

// "LOCAL,BROADCAST,ANYCAST,MULTICAST": the names iptables prints, in its order (the bits').
std::string addr_type_names(std::uint16_t types);

enum class Verdict : std::uint8_t { accept, drop, reject, jump_memguard, nflog };
// REJECT's --reject-with: icmp(6)-port-unreachable, or tcp-reset (only with -p tcp).
enum class RejectWith : std::uint8_t { port_unreachable, tcp_reset };

// -m limit --limit N/sec --limit-burst B
struct RateLimit {
    std::uint32_t per_second = 10;
    std::uint32_t burst = 10;
    friend bool operator==(const RateLimit&, const RateLimit&) = default;
};

struct Rule {
    Family family = Family::ipv4;
    std::string in_iface;               // -i; empty: any interface
    std::optional<Network> src;         // -s; nullopt: any source
    std::string src_set;                // -m set --match-set NAME src; empty: none
    std::optional<Protocol> proto;      // -p
    std::optional<std::uint16_t> dport; // -m tcp/udp --dport; needs proto
    bool related_established = false;   // -m conntrack --ctstate RELATED,ESTABLISHED
    // -m conntrack --ctstate DNAT --ctorigdstport P --ctdir ORIGINAL: the first direction of a
    // connection whose destination this host rewrote, to port P before the rewrite
    std::optional<std::uint16_t> dnat_port;
    std::uint16_t dst_types = 0;    // -m addrtype --dst-type (addr_type bits); 0: no match
    bool rpfilter_failed = false;   // -m rpfilter --invert: fails the strict reverse-path check
    std::optional<RateLimit> limit; // -m limit
    std::string comment;            // -m comment --comment
    Verdict verdict = Verdict::accept;
    RejectWith reject_with = RejectWith::port_unreachable; // only for Verdict::reject
    std::uint16_t nflog_group = 0; // only for Verdict::nflog: -j NFLOG --nflog-group G

    friend bool operator==(const Rule&, const Rule&) = default;
};

// The rule-spec as iptables-legacy-save prints it, without "-A CHAIN", e.g.
// "-p tcp -m tcp --dport 11211 -m comment --comment memguard -j MEMGUARD".
std::string to_string(const Rule& rule);

} // namespace memguard
