#include "xt_rules.hpp"

#include "backend.hpp"
#include "legacy/iptc/bytes.hpp"
#include "legacy/iptc/table.hpp"

#include <libiptc/libiptc.h>
extern "C" {
#include <libiptc/libip6tc.h>
}
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_rpfilter.h>
#include <linux/netfilter/xt_tcpudp.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <span>

namespace memguard::netlink {

namespace {

// Copies the T at byte `at` into `out` when it lies wholly within `bytes`. (Not an optional:
// the kernel's structs end in flexible arrays.)
template <class T> bool read_at(std::span<const std::uint8_t> bytes, std::size_t at, T& out) {
    if (at > bytes.size() || bytes.size() - at < sizeof(T)) {
        return false;
    }
    std::memcpy(&out, bytes.data() + at, sizeof(T));
    return true;
}

std::uint16_t from_be16(std::uint16_t be) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(&be);
    return static_cast<std::uint16_t>((b[0] << 8) | b[1]);
}

// --ctorigdstport of a conntrack match. Revisions 1 to 3 share the layout up to invert_flags;
// 1 and 2 keep the port in network order, 3 in host order with the range's upper end after state
// and status (linux/netfilter/xt_conntrack.h; the kernel's ct_proto_port_check_v3 compares it
// with ntohs of the tuple's port).
std::optional<PortRange> ct_orig_dport(std::span<const std::uint8_t> data, unsigned revision) {
    xt_conntrack_mtinfo1 info{};
    if (!read_at(data, 0, info) || revision < 1 ||
        (info.match_flags & XT_CONNTRACK_ORIGDST_PORT) == 0 ||
        (info.invert_flags & XT_CONNTRACK_ORIGDST_PORT) != 0) {
        return std::nullopt;
    }
    if (revision < 3) {
        return PortRange{from_be16(info.origdst_port), from_be16(info.origdst_port)};
    }
    xt_conntrack_mtinfo3 v3{};
    if (!read_at(data, 0, v3)) {
        return std::nullopt;
    }
    return PortRange{v3.origdst_port, std::max(v3.origdst_port, v3.origdst_port_high)};
}

// One match of an entry into `rule`: the ones doctor reads, the others skipped.
void decode_match(const std::string& name, unsigned revision, std::span<const std::uint8_t> data,
                  XtRule& rule) {
    if (name == "tcp") {
        xt_tcp tcp{}; // ports in host order
        if (read_at(data, 0, tcp) && (tcp.invflags & XT_TCP_INV_DSTPT) == 0) {
            rule.dport = PortRange{tcp.dpts[0], tcp.dpts[1]};
        }
    } else if (name == "udp") {
        xt_udp udp{};
        if (read_at(data, 0, udp) && (udp.invflags & XT_UDP_INV_DSTPT) == 0) {
            rule.dport = PortRange{udp.dpts[0], udp.dpts[1]};
        }
    } else if (name == "comment") {
        xt_comment_info c{};
        if (read_at(data, 0, c)) {
            rule.comment = iptc::bounded_name(c.comment, sizeof c.comment);
        }
    } else if (name == "conntrack") {
        rule.ct_orig_dport = ct_orig_dport(data, revision);
    } else if (name == "rpfilter") {
        xt_rpfilter_info rp{};
        rule.rpfilter_invert = read_at(data, 0, rp) && (rp.flags & XT_RPFILTER_INVERT) != 0;
    }
}

// The protocol an entry matches: ipt_ip.proto; for IPv6 only with IP6T_F_PROTO set.
std::uint8_t entry_protocol(const ipt_entry& e) {
    return (e.ip.invflags & IPT_INV_PROTO) != 0 ? 0 : static_cast<std::uint8_t>(e.ip.proto);
}
std::uint8_t entry_protocol(const ip6t_entry& e) {
    const bool matched = (e.ipv6.flags & IP6T_F_PROTO) != 0;
    return !matched || (e.ipv6.invflags & IP6T_INV_PROTO) != 0
               ? 0
               : static_cast<std::uint8_t>(e.ipv6.proto);
}

// One entry's bytes (`next_offset` long) → the rule; matches and target are walked within them.
template <class Entry>
XtRule decode_entry(const std::string& chain, std::span<const std::uint8_t> bytes) {
    XtRule rule;
    rule.chain = chain;
    Entry entry{};
    if (!read_at(bytes, 0, entry) || entry.target_offset > bytes.size()) {
        return rule;
    }
    rule.protocol = entry_protocol(entry);
    for (std::size_t at = sizeof(Entry); at < entry.target_offset;) {
        xt_entry_match m{};
        const std::size_t size = read_at(bytes, at, m) ? m.u.user.match_size : 0;
        if (size < sizeof(xt_entry_match) || size > entry.target_offset - at) {
            break; // malformed: read no further
        }
        decode_match(iptc::bounded_name(m.u.user.name, sizeof m.u.user.name), m.u.user.revision,
                     bytes.subspan(at + sizeof(xt_entry_match), size - sizeof(xt_entry_match)),
                     rule);
        at += size;
    }
    xt_entry_target t{};
    if (read_at(bytes, entry.target_offset, t) && t.u.user.target_size >= sizeof(xt_entry_target) &&
        t.u.user.target_size <= bytes.size() - entry.target_offset) {
        rule.target = iptc::bounded_name(t.u.user.name, sizeof t.u.user.name);
        rule.target_revision = t.u.user.revision;
        const auto info = bytes.subspan(entry.target_offset + sizeof(xt_entry_target),
                                        t.u.user.target_size - sizeof(xt_entry_target));
        rule.target_info.assign(info.begin(), info.end());
    }
    return rule;
}

} // namespace

bool legacy_table_exists(Family family, std::string_view table) {
    std::ifstream names(family == Family::ipv4 ? "/proc/net/ip_tables_names"
                                               : "/proc/net/ip6_tables_names");
    std::string name;
    while (std::getline(names, name)) {
        if (name == table) {
            return true;
        }
    }
    return false; // no such file: no legacy table at all in this namespace
}

std::vector<XtRule> legacy_rules(Family family, std::string_view table) {
    if (!legacy_table_exists(family, table)) {
        return {};
    }
    const std::string name(table);
    const iptc::Table handle = iptc::Table::open(family, name.c_str());
    std::vector<XtRule> rules;
    handle.for_each_entry([&](const std::string& chain, std::span<const std::uint8_t> bytes) {
        rules.push_back(family == Family::ipv4 ? decode_entry<ipt_entry>(chain, bytes)
                                               : decode_entry<ip6t_entry>(chain, bytes));
    });
    return rules;
}

} // namespace memguard::netlink
