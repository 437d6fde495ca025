// Rule → entry bytes: reading them back is entry_decode.cpp.
#include "entry.hpp"

#include "entry_layout.hpp"

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

namespace memguard::iptc {

namespace {

std::uint8_t proto_number(Protocol p) {
    return p == Protocol::tcp ? IPPROTO_TCP : IPPROTO_UDP;
}

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
    if (r.dnat_port) {
        // -m conntrack --ctstate DNAT --ctdir ORIGINAL --ctorigdstport P
        xt_conntrack_mtinfo3 ct{};
        ct.match_flags = dnat_flags;
        ct.state_mask = dnat_state;
        ct.origdst_port = ct.origdst_port_high = *r.dnat_port;
        add_match(out, "conntrack", conntrack_revision, ct);
    }
    if (r.dst_types != 0) {
        // -m addrtype --dst-type LOCAL,BROADCAST,...
        xt_addrtype_info_v1 type{};
        type.dest = r.dst_types;
        add_match(out, "addrtype", addrtype_revision, type);
    }
    if (r.rpfilter_failed) {
        // -m rpfilter --invert
        xt_rpfilter_info rp{};
        rp.flags = XT_RPFILTER_INVERT;
        add_match(out, "rpfilter", rpfilter_revision, rp);
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

} // namespace

EntryBytes encode_entry(const Rule& rule, const SetNames& sets) {
    return rule.family == Family::ipv4 ? encode<ipt_entry>(rule, sets)
                                       : encode<ip6t_entry>(rule, sets);
}

} // namespace memguard::iptc
