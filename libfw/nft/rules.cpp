#include "rules.hpp"

#include "exprs.hpp"

#include <netinet/in.h> // before the linux/ headers, which then skip their own in.h

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace memguard::nft {

namespace {

constexpr std::uint8_t kIcmpPortUnreachable = 3;  // ICMP_PORT_UNREACH, RFC 792
constexpr std::uint8_t kIcmp6PortUnreachable = 4; // ICMPV6_PORT_UNREACH, RFC 4443

RulePtr new_rule(std::string_view table, std::string_view chain) {
    auto rule = make<RulePtr>(nftnl_rule_alloc);
    const std::string t(table);
    const std::string c(chain);
    nftnl_rule_set_u32(rule.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
    nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, t.c_str());
    nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, c.c_str());
    const auto udata = comment_udata(NFTNL_UDATA_RULE_COMMENT, kComment);
    nftnl_rule_set_data(rule.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(udata.get()),
                        nftnl_udata_buf_len(udata.get()));
    return rule;
}

void match_byte(nftnl_rule* r, std::uint32_t meta_key, std::uint8_t value) {
    expr::meta(r, meta_key);
    expr::cmp(r, NFT_CMP_EQ, std::array<std::uint8_t, 1>{value});
}

std::uint8_t ip_proto(Protocol p) {
    return p == Protocol::tcp ? IPPROTO_TCP : IPPROTO_UDP;
}

// Host-order u32s, as the kernel stores fib's results (nft's fib_addr_type, ifindex) and ct's
// state and status bits.
std::array<std::uint8_t, 4> host_u32(std::uint32_t value) {
    std::array<std::uint8_t, 4> out{};
    std::memcpy(out.data(), &value, sizeof value);
    return out;
}

// ct KEY BITS: any of the bits set (ct state established,related; ct status dnat)
void match_ct_bits(nftnl_rule* r, std::uint32_t key, std::uint32_t bits) {
    expr::ct(r, key);
    expr::bitwise_and(r, host_u32(bits));
    expr::cmp(r, NFT_CMP_NEQ, std::array<std::uint8_t, 4>{});
}

std::array<std::uint8_t, 2> network_u16(std::uint16_t value) {
    return {static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value & 0xFF)};
}

// th dport N: 2 bytes at offset 2 of the transport header, network order
void match_dport(nftnl_rule* r, std::uint16_t port) {
    expr::payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
    expr::cmp(r, NFT_CMP_EQ, network_u16(port));
}

// ct original proto-dst N: the port the connection's client asked for, before any DNAT
void match_original_dport(nftnl_rule* r, std::uint16_t port) {
    expr::ct_tuple(r, NFT_CT_PROTO_DST, IP_CT_DIR_ORIGINAL);
    expr::cmp(r, NFT_CMP_EQ, network_u16(port));
}

// th dport, or (forward) the port asked for before a DNAT, which nft prints as a port only after
// a protocol match: meta l4proto tcp ct original proto-dst != 11211.
RulePtr pass_port_rule(std::string_view table, std::string_view chain,
                       std::optional<Protocol> protocol, std::uint32_t op, std::uint16_t port) {
    auto r = new_rule(table, chain);
    if (protocol) {
        match_byte(r.get(), NFT_META_L4PROTO, ip_proto(*protocol));
        expr::ct_tuple(r.get(), NFT_CT_PROTO_DST, IP_CT_DIR_ORIGINAL);
    } else {
        expr::payload(r.get(), NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
    }
    expr::cmp(r.get(), op, network_u16(port));
    expr::verdict(r.get(), NF_ACCEPT);
    return r;
}

} // namespace

// Not a protocol match in input and prerouting: whatever else the port's two bytes hold (an ICMP
// checksum) only sends the packet on to the jumps, which match the protocol. A packet with no
// transport header to load (a later fragment) matches neither, as before. Network order compares
// as numbers (memcmp).
void pass_other_ports(std::string_view table, std::string_view chain,
                      std::span<const std::uint16_t> ports, std::vector<PlannedRule>& out) {
    const std::string name(chain);
    std::vector<std::optional<Protocol>> protocols{std::nullopt};
    if (chain == kForwardChain) {
        protocols = {Protocol::tcp, Protocol::udp};
    }
    for (const auto protocol : protocols) {
        if (ports.front() == ports.back()) {
            out.push_back(
                {name, pass_port_rule(table, chain, protocol, NFT_CMP_NEQ, ports.front())});
            continue;
        }
        out.push_back({name, pass_port_rule(table, chain, protocol, NFT_CMP_LT, ports.front())});
        out.push_back({name, pass_port_rule(table, chain, protocol, NFT_CMP_GT, ports.back())});
    }
}

// The route lookup comes last: only packets to a guarded port pay for it.
RulePtr jump_rule(std::string_view table, std::string_view chain, Family f, Protocol p,
                  std::uint16_t port) {
    auto r = new_rule(table, chain);
    match_byte(r.get(), NFT_META_NFPROTO, f == Family::ipv4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
    match_byte(r.get(), NFT_META_L4PROTO, ip_proto(p));
    match_dport(r.get(), port);
    if (chain == kPreroutingChain) {
        // fib daddr type local: this host's addresses only, not traffic routed through it
        expr::fib(r.get(), NFT_FIB_RESULT_ADDRTYPE, NFTA_FIB_F_DADDR);
        expr::cmp(r.get(), NFT_CMP_EQ, host_u32(RTN_LOCAL));
    }
    expr::verdict(r.get(), NFT_JUMP, guard_chain(f));
    return r;
}

// Only the original direction: the container's answers are not the client's requests. The
// status bit is set once a DNAT rewrote the connection's destination (address or port), which
// happens in nat prerouting, before this chain's hook.
RulePtr dnat_jump_rule(std::string_view table, Family f, Protocol p, std::uint16_t port) {
    auto r = new_rule(table, kForwardChain);
    match_byte(r.get(), NFT_META_NFPROTO, f == Family::ipv4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
    match_byte(r.get(), NFT_META_L4PROTO, ip_proto(p));
    expr::ct(r.get(), NFT_CT_DIRECTION);
    expr::cmp(r.get(), NFT_CMP_EQ, std::array<std::uint8_t, 1>{IP_CT_DIR_ORIGINAL});
    match_ct_bits(r.get(), NFT_CT_STATUS, IPS_DST_NAT);
    match_original_dport(r.get(), port);
    expr::verdict(r.get(), NFT_JUMP, guard_chain(f));
    return r;
}

// Strict reverse path: the source is not routed back out of the interface the packet came in
// on (a forged source).
RulePtr reverse_path_rule(std::string_view table, Family f, Protocol p,
                          std::optional<std::uint16_t> port) {
    auto r = new_rule(table, guard_chain(f));
    match_byte(r.get(), NFT_META_L4PROTO, ip_proto(p));
    if (port) {
        match_dport(r.get(), *port);
    }
    // `oif missing`: a present-only lookup compared with 0, 4 bytes as nft 1.0.6 writes it
    expr::fib(r.get(), NFT_FIB_RESULT_OIF, NFTA_FIB_F_SADDR | NFTA_FIB_F_IIF | NFTA_FIB_F_PRESENT);
    expr::cmp(r.get(), NFT_CMP_EQ, host_u32(0));
    expr::counter(r.get());
    expr::verdict(r.get(), NF_DROP);
    return r;
}

RulePtr loopback_rule(std::string_view table, Family f) {
    auto r = new_rule(table, guard_chain(f));
    expr::meta(r.get(), NFT_META_IIFNAME);
    std::array<std::uint8_t, 16> name{'l', 'o'}; // IFNAMSIZ, zero-padded as the kernel loads it
    expr::cmp(r.get(), NFT_CMP_EQ, name);
    expr::verdict(r.get(), NF_ACCEPT);
    return r;
}

RulePtr established_rule(std::string_view table, Family f) {
    auto r = new_rule(table, guard_chain(f));
    match_ct_bits(r.get(), NFT_CT_STATE,
                  NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
    expr::verdict(r.get(), NF_ACCEPT);
    return r;
}

RulePtr allow_rule(std::string_view table, Family f, const SetRef& set,
                   std::optional<ServiceMatch> match) {
    auto r = new_rule(table, guard_chain(f));
    // Only IPv4 jumps to guard4, but nft prints the address as `ip saddr` only after this
    // check, and the rule stays right wherever it is.
    match_byte(r.get(), NFT_META_NFPROTO, f == Family::ipv4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
    if (match) {
        match_byte(r.get(), NFT_META_L4PROTO, ip_proto(match->protocol));
        if (match->original) {
            match_ct_bits(r.get(), NFT_CT_STATUS, IPS_DST_NAT);
            match_original_dport(r.get(), match->port);
        } else {
            match_dport(r.get(), match->port);
        }
    }
    if (f == Family::ipv4) {
        expr::payload(r.get(), NFT_PAYLOAD_NETWORK_HEADER, 12, 4); // iphdr.saddr
    } else {
        expr::payload(r.get(), NFT_PAYLOAD_NETWORK_HEADER, 8, 16); // ipv6hdr.saddr
    }
    expr::lookup(r.get(), set.name, set.id);
    expr::verdict(r.get(), NF_ACCEPT);
    return r;
}

// The burst is the rate, as the legacy rule's --limit-burst, so both backends let the same
// packets through to the log.
RulePtr log_rule(std::string_view table, const FamilyDesired& d) {
    auto r = new_rule(table, guard_chain(d.family));
    const std::uint32_t rate = std::max<std::uint32_t>(d.log_rate_per_s, 1);
    expr::limit(r.get(), rate, rate);
    expr::log(r.get(), kComment, d.log_group);
    return r;
}

void closing_rules(std::string_view table, const FamilyDesired& d, bool split,
                   std::vector<PlannedRule>& out) {
    const std::string chain = guard_chain(d.family);
    const bool drop = d.action == Action::drop;
    if (split || !drop) {
        auto tcp = new_rule(table, chain);
        match_byte(tcp.get(), NFT_META_L4PROTO, IPPROTO_TCP);
        expr::counter(tcp.get());
        if (drop) {
            expr::verdict(tcp.get(), NF_DROP);
        } else {
            expr::reject(tcp.get(), NFT_REJECT_TCP_RST, 0);
        }
        out.push_back({chain, std::move(tcp)});
    }
    auto rest = new_rule(table, chain);
    expr::counter(rest.get());
    if (drop) {
        expr::verdict(rest.get(), NF_DROP);
    } else {
        expr::reject(rest.get(), NFT_REJECT_ICMP_UNREACH,
                     d.family == Family::ipv4 ? kIcmpPortUnreachable : kIcmp6PortUnreachable);
    }
    out.push_back({chain, std::move(rest)});
}

} // namespace memguard::nft
