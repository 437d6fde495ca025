#include "entry.hpp"

#include "bytes.hpp"

#include <libiptc/libiptc.h>
extern "C" {
#include <libiptc/libip6tc.h>
}
#include <linux/netfilter/xt_NFLOG.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_limit.h>
#include <linux/netfilter/xt_set.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>
#include <linux/netfilter_ipv6/ip6t_REJECT.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace memguard::iptc {

namespace {

constexpr std::size_t align(std::size_t n) {
    return XT_ALIGN(n);
}

static_assert(align(sizeof(ipt_entry)) == sizeof(ipt_entry));
static_assert(align(sizeof(ip6t_entry)) == sizeof(ip6t_entry));
static_assert(align(sizeof(xt_entry_match)) == sizeof(xt_entry_match));
static_assert(align(sizeof(xt_entry_target)) == sizeof(xt_entry_target));

// conntrack revision 3 is what iptables 1.8 picks on any kernel since 2.6.38.
constexpr std::uint8_t conntrack_revision = 3;
// set revision 4 is what iptables 1.8.9 picks on any kernel since 4.x (counters as u64).
constexpr std::uint8_t set_revision = 4;
constexpr std::uint16_t related_established =
    XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED) | XT_CONNTRACK_STATE_BIT(IP_CT_RELATED);

std::uint8_t proto_number(Protocol p) {
    return p == Protocol::tcp ? IPPROTO_TCP : IPPROTO_UDP;
}

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

// Appends one xt_entry_match (header + info), each part padded with XT_ALIGN.
template <class Info>
void add_match(std::vector<std::uint8_t>& out, const char* name, std::uint8_t revision,
               const Info& info) {
    const std::size_t size = sizeof(xt_entry_match) + align(sizeof(Info));
    const std::size_t at = out.size();
    out.resize(at + size, 0);
    xt_entry_match m{};
    m.u.user.match_size = static_cast<std::uint16_t>(size);
    std::strncpy(m.u.user.name, name, sizeof m.u.user.name - 1);
    m.u.user.revision = revision;
    std::memcpy(out.data() + at, &m, sizeof m);
    std::memcpy(out.data() + at + sizeof m, &info, sizeof info);
}

template <class Info>
void set_target(std::vector<std::uint8_t>& out, const char* name, const Info& info) {
    const std::size_t size = sizeof(xt_entry_target) + align(sizeof(Info));
    out.assign(size, 0);
    xt_entry_target t{};
    t.u.user.target_size = static_cast<std::uint16_t>(size);
    std::strncpy(t.u.user.name, name, sizeof t.u.user.name - 1);
    std::memcpy(out.data(), &t, sizeof t);
    std::memcpy(out.data() + sizeof t, &info, sizeof info);
}

// The standard target (ACCEPT, DROP, or a chain to jump to) carries only a verdict, which
// libiptc fills in from the name; its size must be exactly this or the kernel says EINVAL.
void set_standard_target(std::vector<std::uint8_t>& out, const char* name) {
    const std::size_t size = align(sizeof(xt_standard_target));
    out.assign(size, 0);
    xt_entry_target t{};
    t.u.user.target_size = static_cast<std::uint16_t>(size);
    std::strncpy(t.u.user.name, name, sizeof t.u.user.name - 1);
    std::memcpy(out.data(), &t, sizeof t);
}

void set_reject_target(std::vector<std::uint8_t>& out, const Rule& r) {
    const bool reset = r.reject_with == RejectWith::tcp_reset;
    if (r.family == Family::ipv4) {
        ipt_reject_info info{};
        info.with = reset ? IPT_TCP_RESET : IPT_ICMP_PORT_UNREACHABLE;
        set_target(out, "REJECT", info);
    } else {
        ip6t_reject_info info{};
        info.with = reset ? IP6T_TCP_RESET : IP6T_ICMP6_PORT_UNREACH;
        set_target(out, "REJECT", info);
    }
}

// -m set --match-set NAME src: one dimension, matched on the source address; no counters.
xt_set_info_match_v4 set_match(const Rule& r, const SetNames& sets) {
    const auto index = sets.index_of ? sets.index_of(r.src_set) : std::nullopt;
    if (!index) {
        throw EntryError("ipset " + r.src_set + " does not exist, so no rule can match on it");
    }
    xt_set_info_match_v4 info{};
    info.match_set.index = *index;
    info.match_set.dim = IPSET_DIM_ONE;
    info.match_set.flags = IPSET_DIM_ONE_SRC;
    info.packets.op = IPSET_COUNTER_NONE;
    info.bytes.op = IPSET_COUNTER_NONE;
    return info;
}

void add_matches(std::vector<std::uint8_t>& out, const Rule& r, const SetNames& sets) {
    if (r.proto && r.dport) {
        if (*r.proto == Protocol::tcp) {
            // -m tcp --dport P: source ports default to the full range, as iptables fills them.
            xt_tcp tcp{};
            tcp.spts[1] = 0xFFFF;
            tcp.dpts[0] = tcp.dpts[1] = *r.dport;
            add_match(out, "tcp", 0, tcp);
        } else {
            xt_udp udp{};
            udp.spts[1] = 0xFFFF;
            udp.dpts[0] = udp.dpts[1] = *r.dport;
            add_match(out, "udp", 0, udp);
        }
    }
    if (r.related_established) {
        xt_conntrack_mtinfo3 ct{};
        ct.match_flags = XT_CONNTRACK_STATE;
        ct.state_mask = related_established;
        add_match(out, "conntrack", conntrack_revision, ct);
    }
    if (!r.src_set.empty()) {
        add_match(out, "set", set_revision, set_match(r, sets));
    }
    if (r.limit) {
        // avg is the mean time between packets in 1/XT_LIMIT_SCALE s (libxt_limit.c).
        xt_rateinfo rate{};
        rate.avg = XT_LIMIT_SCALE / std::max<std::uint32_t>(r.limit->per_second, 1);
        rate.burst = r.limit->burst;
        add_match(out, "limit", 0, rate);
    }
    if (!r.comment.empty()) {
        xt_comment_info comment{};
        std::strncpy(comment.comment, r.comment.c_str(), sizeof comment.comment - 1);
        add_match(out, "comment", 0, comment);
    }
}

// -i NAME: iptables masks the name and its terminating NUL (xtables_parse_interface).
template <class Ip> void set_iface(Ip& ip, const std::string& name) {
    std::strncpy(ip.iniface, name.c_str(), sizeof ip.iniface - 1);
    std::fill_n(ip.iniface_mask, std::min(name.size() + 1, sizeof ip.iniface_mask), 0xFF);
}

template <class Entry> EntryBytes encode(const Rule& r, const SetNames& sets) {
    std::vector<std::uint8_t> matches;
    add_matches(matches, r, sets);
    std::vector<std::uint8_t> target;
    switch (r.verdict) {
    case Verdict::accept:
        set_standard_target(target, IPTC_LABEL_ACCEPT);
        break;
    case Verdict::drop:
        set_standard_target(target, IPTC_LABEL_DROP);
        break;
    case Verdict::jump_memguard:
        set_standard_target(target, std::string(chain_name).c_str());
        break;
    case Verdict::reject:
        set_reject_target(target, r);
        break;
    case Verdict::nflog: {
        // -j NFLOG --nflog-prefix memguard --nflog-group G; threshold as NFLOG_init sets it.
        xt_nflog_info info{};
        info.group = r.nflog_group;
        info.threshold = XT_NFLOG_DEFAULT_THRESHOLD;
        std::strncpy(info.prefix, std::string(comment_tag).c_str(), sizeof info.prefix - 1);
        set_target(target, "NFLOG", info);
        break;
    }
    }

    Entry e{};
    auto& ip = Header<Entry>::ip(e);
    if (r.src) {
        const auto mask = r.src->mask();
        std::memcpy(&ip.src, r.src->addr.data(), sizeof ip.src);
        std::memcpy(&ip.smsk, mask.data(), sizeof ip.smsk);
    }
    if (!r.in_iface.empty()) {
        set_iface(ip, r.in_iface);
    }
    if (r.proto) {
        ip.proto = proto_number(*r.proto);
        ip.flags = Header<Entry>::proto_flag;
    }
    e.target_offset = static_cast<std::uint16_t>(sizeof(Entry) + matches.size());
    e.next_offset = static_cast<std::uint16_t>(e.target_offset + target.size());

    EntryBytes bytes(e.next_offset);
    std::memcpy(bytes.data(), &e, sizeof e);
    if (!matches.empty()) { // memcpy from an empty vector's null data() is undefined
        std::memcpy(bytes.data() + sizeof e, matches.data(), matches.size());
    }
    std::memcpy(bytes.data() + e.target_offset, target.data(), target.size());
    return bytes;
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
        auto info = read_at<xt_conntrack_mtinfo3>(bytes, data);
        const bool ours = info.match_flags == XT_CONNTRACK_STATE && info.invert_flags == 0 &&
                          info.state_mask == related_established;
        rule.related_established = true;
        return ours;
    }
    if (name == "set" && m.u.user.revision == set_revision && sized(sizeof(xt_set_info_match_v4))) {
        const auto info = read_at<xt_set_info_match_v4>(bytes, data);
        auto set = sets.name_of ? sets.name_of(info.match_set.index) : std::nullopt;
        if (!set || *set != set_name(rule.family)) { // only our own set is something we write
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

template <class Entry>
DecodedEntry decode(Family family, std::span<const std::uint8_t> bytes, std::string_view target,
                    const SetNames& sets) {
    const auto e = read_at<Entry>(bytes, 0);
    const std::size_t target_offset = e.target_offset;
    const std::size_t next_offset = e.next_offset;
    if (next_offset != bytes.size() || target_offset < sizeof(Entry) ||
        target_offset > next_offset || next_offset - target_offset < sizeof(xt_entry_target)) {
        throw EntryError("entry offsets inconsistent: target_offset " +
                         std::to_string(e.target_offset) + ", next_offset " +
                         std::to_string(e.next_offset) + ", size " + std::to_string(bytes.size()));
    }
    DecodedEntry out;
    out.packets = e.counters.pcnt;
    out.bytes = e.counters.bcnt;
    Rule rule;
    rule.family = family;
    bool expressible = true;

    const auto& ip = Header<Entry>::ip(e);
    if (ip.proto == IPPROTO_TCP || ip.proto == IPPROTO_UDP) {
        rule.proto = ip.proto == IPPROTO_TCP ? Protocol::tcp : Protocol::udp;
    } else if (ip.proto != 0) {
        expressible = false;
    }
    const std::uint8_t want_flags = ip.proto != 0 ? Header<Entry>::proto_flag : 0;
    const auto zero = [](const auto& field) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(&field);
        return std::all_of(p, p + sizeof field, [](std::uint8_t b) { return b == 0; });
    };
    expressible = expressible && ip.flags == want_flags && ip.invflags == 0 && zero(ip.dst) &&
                  zero(ip.dmsk) && zero(ip.outiface) && zero(ip.outiface_mask);
    if constexpr (std::is_same_v<Entry, ip6t_entry>) {
        expressible = expressible && ip.tos == 0;
    }

    const auto src = network_from_mask(family, reinterpret_cast<const std::uint8_t*>(&ip.src),
                                       reinterpret_cast<const std::uint8_t*>(&ip.smsk));
    if (!src || src->has_host_bits()) {
        expressible = false;
    } else if (src->prefix > 0) {
        rule.src = src;
    }
    rule.in_iface = bounded_name(ip.iniface, sizeof ip.iniface);
    decltype(ip.iniface_mask) mask{};
    std::fill_n(mask, std::min(rule.in_iface.size() + 1, sizeof mask), 0xFF);
    if (rule.in_iface.empty()) {
        std::fill_n(mask, sizeof mask, 0);
    }
    expressible = expressible && rule.in_iface.size() < sizeof ip.iniface &&
                  std::memcmp(mask, ip.iniface_mask, sizeof mask) == 0;

    // We write each match at most once. A repeated one (`--dport 1 ... --dport 11211`) would
    // decode to our rule while the kernel requires both, so the rule could never fire.
    std::vector<std::string> seen;
    std::size_t at = sizeof(Entry);
    while (at < e.target_offset) {
        const auto m = read_at<xt_entry_match>(bytes, at);
        const std::size_t size = m.u.user.match_size;
        if (size < sizeof(xt_entry_match) || size > e.target_offset - at) {
            throw EntryError("match at offset " + std::to_string(at) + " has size " +
                             std::to_string(size) + ", past the target at " +
                             std::to_string(e.target_offset));
        }
        std::string name = bounded_name(m.u.user.name, sizeof m.u.user.name);
        if (std::ranges::find(seen, name) != seen.end()) {
            expressible = false;
        }
        seen.push_back(std::move(name));
        expressible = decode_match(bytes, at, m, sets, rule, out.comment) && expressible;
        at += size;
    }
    const auto t = read_at<xt_entry_target>(bytes, e.target_offset);
    const std::size_t target_size = t.u.user.target_size;
    if (target_size != next_offset - target_offset) {
        throw EntryError("target size " + std::to_string(target_size) + " does not fill the " +
                         std::to_string(next_offset - target_offset) + " bytes left");
    }
    expressible = decode_target(bytes, e.target_offset, target_size, target, rule) && expressible;
    // A port match without its protocol, or a protocol match we did not see, is not ours.
    expressible = expressible && (!rule.dport || rule.proto);
    if (expressible) {
        out.rule = rule;
    }
    return out;
}

} // namespace

EntryBytes encode_entry(const Rule& rule, const SetNames& sets) {
    return rule.family == Family::ipv4 ? encode<ipt_entry>(rule, sets)
                                       : encode<ip6t_entry>(rule, sets);
}

DecodedEntry decode_entry(Family family, std::span<const std::uint8_t> bytes,
                          std::string_view target, const SetNames& sets) {
    return family == Family::ipv4 ? decode<ipt_entry>(family, bytes, target, sets)
                                  : decode<ip6t_entry>(family, bytes, target, sets);
}

} // namespace memguard::iptc
