// Entry bytes → Rule: the inverse of entry.cpp, for bytes that may come from anyone.
#include "entry.hpp"

#include "bytes.hpp"
#include "entry_layout.hpp"
#include "entry_walk.hpp"

#include <linux/netfilter/xt_NFLOG.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_limit.h>
#include <linux/netfilter/xt_set.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>
#include <linux/netfilter_ipv6/ip6t_REJECT.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace memguard::iptc {

namespace {

// The two conntrack matches memguardd writes: --ctstate RELATED,ESTABLISHED, or --ctstate DNAT
// --ctorigdstport P --ctdir ORIGINAL. False for any other.
bool decode_conntrack(const xt_conntrack_mtinfo3& info, Rule& rule) {
    if (info.match_flags != dnat_flags) {
        rule.related_established = true;
        return info.match_flags == XT_CONNTRACK_STATE && info.invert_flags == 0 &&
               info.state_mask == related_established;
    }
    rule.dnat_port = info.origdst_port;
    // Nothing but what entry.cpp writes for that port may be set.
    auto zero = [](const nf_inet_addr& a) {
        return std::ranges::all_of(a.all, [](std::uint32_t w) { return w == 0; });
    };
    const bool addresses_unset = zero(info.origsrc_addr) && zero(info.origsrc_mask) &&
                                 zero(info.origdst_addr) && zero(info.origdst_mask) &&
                                 zero(info.replsrc_addr) && zero(info.replsrc_mask) &&
                                 zero(info.repldst_addr) && zero(info.repldst_mask);
    return addresses_unset && info.state_mask == dnat_state && info.invert_flags == 0 &&
           info.origdst_port_high == info.origdst_port && info.expires_min == 0 &&
           info.expires_max == 0 && info.l4proto == 0 && info.origsrc_port == 0 &&
           info.replsrc_port == 0 && info.repldst_port == 0 && info.status_mask == 0 &&
           info.origsrc_port_high == 0 && info.replsrc_port_high == 0 &&
           info.repldst_port_high == 0;
}

// Reads one match into `rule`; returns false for anything memguardd does not write.
bool decode_match(std::span<const std::uint8_t> bytes, std::size_t at, const xt_entry_match& m,
                  const SetNames& sets, Rule& rule, std::string& comment) {
    const std::string name = bounded_name(m.u.user.name, sizeof m.u.user.name);
    const std::size_t data = at + sizeof(xt_entry_match);
    auto sized = [&](std::size_t info) { return m.u.user.match_size == sizeof m + align(info); };
    if (name == "comment" && m.u.user.revision == 0 && sized(sizeof(xt_comment_info))) {
        const auto info = read_at<xt_comment_info>(bytes, data);
        comment = bounded_name(info.comment, sizeof info.comment);
        rule.comment = comment;
        return comment.size() < sizeof info.comment; // we always write the terminating NUL
    }
    if (name == "conntrack" && m.u.user.revision == conntrack_revision &&
        sized(sizeof(xt_conntrack_mtinfo3))) {
        return decode_conntrack(read_at<xt_conntrack_mtinfo3>(bytes, data), rule);
    }
    if (name == "addrtype" && m.u.user.revision == addrtype_revision &&
        sized(sizeof(xt_addrtype_info_v1))) {
        // Any set of the four kinds reads back, so the LOCAL alone that older versions wrote is
        // seen as a rule of ours that must be replaced.
        const auto info = read_at<xt_addrtype_info_v1>(bytes, data);
        rule.dst_types = info.dest;
        return info.source == 0 && info.dest != 0 && (info.dest & ~addr_type::all) == 0 &&
               info.flags == 0;
    }
    if (name == "rpfilter" && m.u.user.revision == rpfilter_revision &&
        sized(sizeof(xt_rpfilter_info))) {
        const auto info = read_at<xt_rpfilter_info>(bytes, data);
        rule.rpfilter_failed = true;
        return info.flags == XT_RPFILTER_INVERT;
    }
    if (name == "set" && m.u.user.revision == set_revision && sized(sizeof(xt_set_info_match_v4))) {
        const auto info = read_at<xt_set_info_match_v4>(bytes, data);
        auto set = sets.name_of ? sets.name_of(info.match_set.index) : std::nullopt;
        if (!set || !is_our_set_name(rule.family, *set)) { // only our own sets are ours to write
            return false;
        }
        rule.src_set = std::move(*set);
        return info.match_set.dim == IPSET_DIM_ONE && info.match_set.flags == IPSET_DIM_ONE_SRC &&
               info.packets.op == IPSET_COUNTER_NONE && info.packets.value == 0 &&
               info.bytes.op == IPSET_COUNTER_NONE && info.bytes.value == 0 && info.flags == 0;
    }
    if (name == "limit" && m.u.user.revision == 0 && sized(sizeof(xt_rateinfo))) {
        // Only avg and burst are ours; the kernel keeps its own state in the rest.
        const auto rate = read_at<xt_rateinfo>(bytes, data);
        if (rate.avg == 0 || rate.avg > XT_LIMIT_SCALE) { // slower than 1/sec: not ours
            return false;
        }
        rule.limit = RateLimit{XT_LIMIT_SCALE / rate.avg, rate.burst};
        return true;
    }
    if (name == "tcp" && m.u.user.revision == 0 && sized(sizeof(xt_tcp)) &&
        rule.proto == Protocol::tcp) {
        const auto tcp = read_at<xt_tcp>(bytes, data);
        rule.dport = tcp.dpts[0];
        return tcp.spts[0] == 0 && tcp.spts[1] == 0xFFFF && tcp.dpts[0] == tcp.dpts[1] &&
               tcp.option == 0 && tcp.flg_mask == 0 && tcp.flg_cmp == 0 && tcp.invflags == 0;
    }
    if (name == "udp" && m.u.user.revision == 0 && sized(sizeof(xt_udp)) &&
        rule.proto == Protocol::udp) {
        const auto udp = read_at<xt_udp>(bytes, data);
        rule.dport = udp.dpts[0];
        return udp.spts[0] == 0 && udp.spts[1] == 0xFFFF && udp.dpts[0] == udp.dpts[1] &&
               udp.invflags == 0;
    }
    return false;
}

bool decode_target(std::span<const std::uint8_t> bytes, std::size_t at, std::size_t size,
                   std::string_view name, Rule& rule) {
    if (name == IPTC_LABEL_ACCEPT || name == IPTC_LABEL_DROP || name == chain_name) {
        rule.verdict = name == IPTC_LABEL_ACCEPT ? Verdict::accept
                       : name == IPTC_LABEL_DROP ? Verdict::drop
                                                 : Verdict::jump_memguard;
        return size == align(sizeof(xt_standard_target));
    }
    if (name == "NFLOG") {
        if (size != sizeof(xt_entry_target) + align(sizeof(xt_nflog_info))) {
            return false;
        }
        const auto info = read_at<xt_nflog_info>(bytes, at + sizeof(xt_entry_target));
        rule.verdict = Verdict::nflog;
        rule.nflog_group = info.group;
        return info.len == 0 && info.flags == 0 && info.threshold == XT_NFLOG_DEFAULT_THRESHOLD &&
               bounded_name(info.prefix, sizeof info.prefix) == comment_tag;
    }
    if (name != "REJECT" || size != sizeof(xt_entry_target) + align(sizeof(std::uint32_t))) {
        return false;
    }
    rule.verdict = Verdict::reject;
    const auto with = read_at<std::uint32_t>(bytes, at + sizeof(xt_entry_target));
    const bool v4 = rule.family == Family::ipv4;
    const auto reset = v4 ? std::uint32_t{IPT_TCP_RESET} : std::uint32_t{IP6T_TCP_RESET};
    const auto port =
        v4 ? std::uint32_t{IPT_ICMP_PORT_UNREACHABLE} : std::uint32_t{IP6T_ICMP6_PORT_UNREACH};
    rule.reject_with = with == reset ? RejectWith::tcp_reset : RejectWith::port_unreachable;
    return with == reset || with == port;
}

template <class Field> bool all_zero(const Field& field) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&field);
    return std::all_of(p, p + sizeof field, [](std::uint8_t b) { return b == 0; });
}

// -i NAME into `rule`; false unless the mask is the one set_iface writes for that name.
template <class Ip> bool decode_iface(const Ip& ip, Rule& rule) {
    rule.in_iface = bounded_name(ip.iniface, sizeof ip.iniface);
    decltype(ip.iniface_mask) mask{};
    std::fill_n(mask, std::min(rule.in_iface.size() + 1, sizeof mask), 0xFF);
    if (rule.in_iface.empty()) {
        std::fill_n(mask, sizeof mask, 0);
    }
    return rule.in_iface.size() < sizeof ip.iniface &&
           std::memcmp(mask, ip.iniface_mask, sizeof mask) == 0;
}

// The ip header part (protocol, source, input interface) into `rule`; false when it matches on
// anything else.
template <class Entry> bool decode_ip(const Entry& e, Rule& rule) {
    const auto& ip = Header<Entry>::ip(e);
    bool expressible = true;
    if (ip.proto == IPPROTO_TCP || ip.proto == IPPROTO_UDP) {
        rule.proto = ip.proto == IPPROTO_TCP ? Protocol::tcp : Protocol::udp;
    } else if (ip.proto != 0) {
        expressible = false;
    }
    const std::uint8_t want_flags = ip.proto != 0 ? Header<Entry>::proto_flag : 0;
    expressible = expressible && ip.flags == want_flags && ip.invflags == 0 && all_zero(ip.dst) &&
                  all_zero(ip.dmsk) && all_zero(ip.outiface) && all_zero(ip.outiface_mask);
    if constexpr (std::is_same_v<Entry, ip6t_entry>) {
        expressible = expressible && ip.tos == 0;
    }

    const auto src = network_from_mask(rule.family, reinterpret_cast<const std::uint8_t*>(&ip.src),
                                       reinterpret_cast<const std::uint8_t*>(&ip.smsk));
    if (!src || src->has_host_bits()) {
        expressible = false;
    } else if (src->prefix > 0) {
        rule.src = src;
    }
    return decode_iface(ip, rule) && expressible;
}

// The matches (walk_entry checked their sizes), each into `rule`; false when one is not ours.
bool decode_matches(std::span<const std::uint8_t> bytes, const std::vector<EntryPart>& matches,
                    const SetNames& sets, Rule& rule, std::string& comment) {
    bool expressible = true;
    // We write each match at most once. A repeated one (`--dport 1 ... --dport 11211`) would
    // decode to our rule while the kernel requires both, so the rule could never fire.
    std::vector<std::string> seen;
    for (const EntryPart& match : matches) {
        const auto m = read_at<xt_entry_match>(bytes, match.offset);
        if (std::ranges::find(seen, match.name) != seen.end()) {
            expressible = false;
        }
        seen.push_back(match.name);
        expressible = decode_match(bytes, match.offset, m, sets, rule, comment) && expressible;
    }
    return expressible;
}

// Ours fill the entry up to `next_offset` (the kernel would let a target end before).
std::size_t target_size_of(const EntryWalk& walk) {
    if (walk.target.size != walk.next_offset - walk.target_offset) {
        throw EntryError("target size " + std::to_string(walk.target.size) + " does not fill the " +
                         std::to_string(walk.next_offset - walk.target_offset) + " bytes left");
    }
    return walk.target.size;
}

template <class Entry>
DecodedEntry decode(Family family, std::span<const std::uint8_t> bytes, std::string_view target,
                    const SetNames& sets) {
    const EntryWalk walk = walk_entry(family, bytes);
    const auto e = read_at<Entry>(bytes, 0);
    DecodedEntry out;
    out.packets = e.counters.pcnt;
    out.bytes = e.counters.bcnt;
    Rule rule;
    rule.family = family;
    bool expressible = decode_ip(e, rule);
    expressible = decode_matches(bytes, walk.matches, sets, rule, out.comment) && expressible;
    const std::size_t target_size = target_size_of(walk);
    expressible = decode_target(bytes, e.target_offset, target_size, target, rule) && expressible;
    // A port match without its protocol, or a protocol match we did not see, is not ours.
    expressible = expressible && (!rule.dport || rule.proto);
    if (expressible) {
        out.rule = rule;
    }
    return out;
}

} // namespace

DecodedEntry decode_entry(Family family, std::span<const std::uint8_t> bytes,
                          std::string_view target, const SetNames& sets) {
    return family == Family::ipv4 ? decode<ipt_entry>(family, bytes, target, sets)
                                  : decode<ip6t_entry>(family, bytes, target, sets);
}

} // namespace memguard::iptc
