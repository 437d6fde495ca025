// Internal to libfw/iptc: what encoding and decoding an entry agree on (entry.cpp,
// entry_decode.cpp): the alignment, the match revisions memguardd writes, and where each family
// keeps the ip header part of its entry.
#pragma once

#include <libiptc/libiptc.h>
extern "C" {
#include <libiptc/libip6tc.h>
}
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_rpfilter.h>

#include "../rule.hpp"

#include <cstddef>
#include <cstdint>

namespace memguard::iptc {

constexpr std::size_t align(std::size_t n) {
    return XT_ALIGN(n);
}

static_assert(align(sizeof(ipt_entry)) == sizeof(ipt_entry));
static_assert(align(sizeof(ip6t_entry)) == sizeof(ip6t_entry));
static_assert(align(sizeof(xt_entry_match)) == sizeof(xt_entry_match));
static_assert(align(sizeof(xt_entry_target)) == sizeof(xt_entry_target));

// conntrack revision 3 is what iptables 1.8 picks on any kernel since 2.6.38.
inline constexpr std::uint8_t conntrack_revision = 3;
// set revision 4 is what iptables 1.8.9 picks on any kernel since 4.x (counters as u64).
inline constexpr std::uint8_t set_revision = 4;
inline constexpr std::uint16_t related_established =
    XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED) | XT_CONNTRACK_STATE_BIT(IP_CT_RELATED);
// --ctstate DNAT --ctorigdstport P --ctdir ORIGINAL, as libxt_conntrack's revision 3 stores it
// (measured with iptables-legacy 1.8.9): the port in host byte order as a range P:P, and
// ORIGINAL as the direction flag without its invert bit.
inline constexpr std::uint16_t dnat_flags =
    XT_CONNTRACK_STATE | XT_CONNTRACK_ORIGDST_PORT | XT_CONNTRACK_DIRECTION;
inline constexpr std::uint16_t dnat_state = XT_CONNTRACK_STATE_DNAT;
// addrtype revision 1 is what iptables 1.8 picks (libxt_addrtype.c); rpfilter has only 0.
inline constexpr std::uint8_t addrtype_revision = 1;
inline constexpr std::uint8_t rpfilter_revision = 0;
static_assert(addr_type::local == XT_ADDRTYPE_LOCAL &&
              addr_type::broadcast == XT_ADDRTYPE_BROADCAST &&
              addr_type::anycast == XT_ADDRTYPE_ANYCAST &&
              addr_type::multicast == XT_ADDRTYPE_MULTICAST);

// The header part both families share, at the offsets of their own structs.
template <class Entry> struct Header;
template <> struct Header<ipt_entry> {
    static auto& ip(ipt_entry& e) { return e.ip; }
    static const auto& ip(const ipt_entry& e) { return e.ip; }
    static constexpr std::uint8_t proto_flag = 0; // IPv4 matches proto != 0 without a flag
};
template <> struct Header<ip6t_entry> {
    static auto& ip(ip6t_entry& e) { return e.ipv6; }
    static const auto& ip(const ip6t_entry& e) { return e.ipv6; }
    static constexpr std::uint8_t proto_flag = IP6T_F_PROTO; // ip6tables sets it with -p
};

} // namespace memguard::iptc
