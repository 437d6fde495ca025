#include "plan.hpp"

#include "exprs.hpp"
#include "render.hpp"

#include <netinet/in.h> // before the linux/ headers, which then skip their own in.h

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace memguard::nft {

namespace {

constexpr std::uint8_t kIcmpPortUnreachable = 3;  // ICMP_PORT_UNREACH, RFC 792
constexpr std::uint8_t kIcmp6PortUnreachable = 4; // ICMPV6_PORT_UNREACH, RFC 4443

std::uint32_t set_id(Family family) {
    return family == Family::ipv4 ? 1 : 2;
}

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

// Host-order u32s, as the kernel stores fib's results (nft's fib_addr_type, ifindex).
std::array<std::uint8_t, 4> host_u32(std::uint32_t value) {
    std::array<std::uint8_t, 4> out{};
    std::memcpy(out.data(), &value, sizeof value);
    return out;
}

// input:      meta nfproto ipv4 meta l4proto tcp th dport 11211 jump guard4
// prerouting: meta nfproto ipv4 meta l4proto tcp th dport 11211 fib daddr type local jump guard4
// The route lookup comes last: only packets to a guarded port pay for it.
RulePtr jump_rule(std::string_view table, std::string_view chain, Family f, Protocol p,
                  std::uint16_t port) {
    auto r = new_rule(table, chain);
    match_byte(r.get(), NFT_META_NFPROTO, f == Family::ipv4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
    match_byte(r.get(), NFT_META_L4PROTO, p == Protocol::tcp ? IPPROTO_TCP : IPPROTO_UDP);
    // th dport: 2 bytes at offset 2 of the transport header, network order
    expr::payload(r.get(), NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
    expr::cmp(r.get(), NFT_CMP_EQ,
              std::array<std::uint8_t, 2>{static_cast<std::uint8_t>(port >> 8),
                                          static_cast<std::uint8_t>(port & 0xFF)});
    if (chain == kPreroutingChain) {
        // fib daddr type local: this host's addresses only, not traffic routed through it
        expr::fib(r.get(), NFT_FIB_RESULT_ADDRTYPE, NFTA_FIB_F_DADDR);
        expr::cmp(r.get(), NFT_CMP_EQ, host_u32(RTN_LOCAL));
    }
    expr::verdict(r.get(), NFT_JUMP, guard_chain(f));
    return r;
}

// meta l4proto udp fib saddr . iif oif missing counter drop: strict reverse path, the source
// is not routed back out of the interface the packet came in on (a forged source).
RulePtr reverse_path_rule(std::string_view table, Family f, Protocol p) {
    auto r = new_rule(table, guard_chain(f));
    match_byte(r.get(), NFT_META_L4PROTO, p == Protocol::tcp ? IPPROTO_TCP : IPPROTO_UDP);
    // `oif missing`: a present-only lookup compared with 0, 4 bytes as nft 1.0.6 writes it
    expr::fib(r.get(), NFT_FIB_RESULT_OIF, NFTA_FIB_F_SADDR | NFTA_FIB_F_IIF | NFTA_FIB_F_PRESENT);
    expr::cmp(r.get(), NFT_CMP_EQ, host_u32(0));
    expr::counter(r.get());
    expr::verdict(r.get(), NF_DROP);
    return r;
}

// iifname "lo" accept
RulePtr loopback_rule(std::string_view table, Family f) {
    auto r = new_rule(table, guard_chain(f));
    expr::meta(r.get(), NFT_META_IIFNAME);
    std::array<std::uint8_t, 16> name{'l', 'o'}; // IFNAMSIZ, zero-padded as the kernel loads it
    expr::cmp(r.get(), NFT_CMP_EQ, name);
    expr::verdict(r.get(), NF_ACCEPT);
    return r;
}

// ct state established,related accept
RulePtr established_rule(std::string_view table, Family f) {
    auto r = new_rule(table, guard_chain(f));
    expr::ct(r.get(), NFT_CT_STATE);
    constexpr std::uint32_t bits =
        NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
    // ct state is a host-order u32 (nft's ct_state type)
    std::array<std::uint8_t, 4> mask{};
    std::memcpy(mask.data(), &bits, sizeof bits);
    expr::bitwise_and(r.get(), mask);
    expr::cmp(r.get(), NFT_CMP_NEQ, std::array<std::uint8_t, 4>{});
    expr::verdict(r.get(), NF_ACCEPT);
    return r;
}

// ip saddr @allow4 accept / ip6 saddr @allow6 accept
RulePtr allow_rule(std::string_view table, Family f) {
    auto r = new_rule(table, guard_chain(f));
    // Only IPv4 jumps to guard4, but nft prints the address as `ip saddr` only after this
    // check, and the rule stays right wherever it is.
    match_byte(r.get(), NFT_META_NFPROTO, f == Family::ipv4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
    if (f == Family::ipv4) {
        expr::payload(r.get(), NFT_PAYLOAD_NETWORK_HEADER, 12, 4); // iphdr.saddr
    } else {
        expr::payload(r.get(), NFT_PAYLOAD_NETWORK_HEADER, 8, 16); // ipv6hdr.saddr
    }
    expr::lookup(r.get(), allow_set(f), set_id(f));
    expr::verdict(r.get(), NF_ACCEPT);
    return r;
}

// limit rate N/second burst N packets log prefix "memguard" group G: the burst is the rate, as
// the legacy rule's --limit-burst, so both backends let the same packets through to the log.
RulePtr log_rule(std::string_view table, const FamilyDesired& d) {
    auto r = new_rule(table, guard_chain(d.family));
    const std::uint32_t rate = std::max<std::uint32_t>(d.log_rate_per_s, 1);
    expr::limit(r.get(), rate, rate);
    expr::log(r.get(), kComment, d.log_group);
    return r;
}

// counter drop | meta l4proto tcp counter reject with tcp reset + counter reject (icmp)
void verdict_rules(std::string_view table, const FamilyDesired& d, std::vector<PlannedRule>& out) {
    const std::string chain = guard_chain(d.family);
    if (d.action == Action::drop) {
        auto r = new_rule(table, chain);
        expr::counter(r.get());
        expr::verdict(r.get(), NF_DROP);
        out.push_back({chain, std::move(r)});
        return;
    }
    auto tcp = new_rule(table, chain);
    match_byte(tcp.get(), NFT_META_L4PROTO, IPPROTO_TCP);
    expr::counter(tcp.get());
    expr::reject(tcp.get(), NFT_REJECT_TCP_RST, 0);
    out.push_back({chain, std::move(tcp)});
    auto icmp = new_rule(table, chain);
    expr::counter(icmp.get());
    expr::reject(icmp.get(), NFT_REJECT_ICMP_UNREACH,
                 d.family == Family::ipv4 ? kIcmpPortUnreachable : kIcmp6PortUnreachable);
    out.push_back({chain, std::move(icmp)});
}

void guard_rules(std::string_view table, const FamilyDesired& d, std::vector<PlannedRule>& out) {
    const std::string chain = guard_chain(d.family);
    if (d.allow_loopback) {
        out.push_back({chain, loopback_rule(table, d.family)});
    }
    for (const Protocol p : d.reverse_path) {
        out.push_back({chain, reverse_path_rule(table, d.family, p)});
    }
    if (d.accept_established) {
        out.push_back({chain, established_rule(table, d.family)});
    }
    out.push_back({chain, allow_rule(table, d.family)});
    if (d.log_blocked) {
        out.push_back({chain, log_rule(table, d)});
    }
    verdict_rules(table, d, out);
}

} // namespace

TablePlan plan_table(std::string_view table, const Desired& desired) {
    TablePlan plan;
    plan.table = table;
    plan.chains = {{std::string(kInputChain), NF_INET_LOCAL_IN, kInputPriority},
                   {std::string(kPreroutingChain), NF_INET_PRE_ROUTING, kPreroutingPriority},
                   {"guard4", std::nullopt, 0},
                   {"guard6", std::nullopt, 0}};
    for (const std::string_view chain : {kInputChain, kPreroutingChain}) {
        for (const FamilyDesired* d : {&desired.ipv4, &desired.ipv6}) {
            for (const Protocol p : d->protocols) {
                for (const std::uint16_t port : d->ports) {
                    plan.rules.push_back(
                        {std::string(chain), jump_rule(table, chain, d->family, p, port)});
                }
            }
        }
    }
    for (const FamilyDesired* d : {&desired.ipv4, &desired.ipv6}) {
        plan.sets.push_back({allow_set(d->family), d->family, set_id(d->family),
                             merged_ranges(d->family, d->allow)});
        guard_rules(table, *d, plan.rules);
    }
    return plan;
}

TableModel model_of(const TablePlan& plan) {
    TableModel m;
    m.name = plan.table;
    m.comment = kTableMarker;
    for (const PlannedChain& c : plan.chains) {
        ChainModel chain;
        chain.name = c.name;
        chain.comment = kComment;
        if (c.hook) {
            chain.type = "filter";
            chain.hook = c.hook;
            chain.priority = c.priority;
            chain.policy = NF_ACCEPT;
        }
        m.chains.push_back(std::move(chain));
    }
    for (const PlannedSet& s : plan.sets) {
        SetModel set;
        set.name = s.name;
        set.family = s.family;
        set.key_type = s.family == Family::ipv4 ? 7 : 8;
        set.key_len = static_cast<std::uint32_t>(address_size(s.family));
        set.flags = NFT_SET_INTERVAL;
        set.comment = kComment;
        set.ranges = s.ranges;
        m.sets.push_back(std::move(set));
    }
    for (const PlannedRule& r : plan.rules) {
        m.chain(r.chain)->rules.push_back(render_rule(r.rule.get()));
    }
    return m;
}

Desired fail_closed_desired(const Desired& desired, std::span<const std::uint16_t> guarded) {
    std::vector<std::uint16_t> ports{11211};
    for (const FamilyDesired* d : {&desired.ipv4, &desired.ipv6}) {
        ports.insert(ports.end(), d->ports.begin(), d->ports.end());
    }
    ports.insert(ports.end(), guarded.begin(), guarded.end());
    std::sort(ports.begin(), ports.end());
    ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
    Desired out;
    for (FamilyDesired* d : {&out.ipv4, &out.ipv6}) {
        d->family = d == &out.ipv4 ? Family::ipv4 : Family::ipv6;
        d->ports = ports;
        d->protocols = {Protocol::tcp, Protocol::udp};
        d->allow_loopback = true;
        d->accept_established = false;
        d->action = Action::drop;
    }
    return out;
}

} // namespace memguard::nft
