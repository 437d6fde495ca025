#include "foreign_rules.hpp"

#include "bytes.hpp"
#include "entry_walk.hpp"
#include "table.hpp"

#include <libiptc/libiptc.h>
extern "C" {
#include <libiptc/libip6tc.h>
}
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_rpfilter.h>
#include <linux/netfilter/xt_tcpudp.h>

#include <algorithm>
#include <fstream>
#include <span>

namespace memguard::iptc {

namespace {

std::uint16_t from_be16(std::uint16_t be) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(&be);
    return static_cast<std::uint16_t>((b[0] << 8) | b[1]);
}

// --ctorigdstport of a conntrack match. Revisions 1 to 3 share the layout up to invert_flags;
// 1 and 2 keep the port in network order, 3 in host order with the range's upper end after state
// and status (linux/netfilter/xt_conntrack.h; the kernel's ct_proto_port_check_v3 compares it
// with ntohs of the tuple's port).
std::optional<PortRange> ct_orig_dport(std::span<const std::uint8_t> data, unsigned revision) {
    const auto info1 = read_if<xt_conntrack_mtinfo1>(data);
    if (!info1 || revision < 1) {
        return std::nullopt;
    }
    const xt_conntrack_mtinfo1& info = *info1;
    if ((info.match_flags & XT_CONNTRACK_ORIGDST_PORT) == 0 ||
        (info.invert_flags & XT_CONNTRACK_ORIGDST_PORT) != 0) {
        return std::nullopt;
    }
    if (revision < 3) {
        return PortRange{from_be16(info.origdst_port), from_be16(info.origdst_port)};
    }
    const auto v3 = read_if<xt_conntrack_mtinfo3>(data);
    if (!v3) {
        return std::nullopt;
    }
    return PortRange{v3->origdst_port, std::max(v3->origdst_port, v3->origdst_port_high)};
}

// One match of an entry into `rule`: the ones doctor reads, the others skipped.
void decode_match(const std::string& name, unsigned revision, std::span<const std::uint8_t> data,
                  XtRule& rule) {
    if (name == "tcp") {
        const auto tcp = read_if<xt_tcp>(data); // ports in host order
        if (tcp && (tcp->invflags & XT_TCP_INV_DSTPT) == 0) {
            rule.dport = PortRange{tcp->dpts[0], tcp->dpts[1]};
        }
    } else if (name == "udp") {
        const auto udp = read_if<xt_udp>(data);
        if (udp && (udp->invflags & XT_UDP_INV_DSTPT) == 0) {
            rule.dport = PortRange{udp->dpts[0], udp->dpts[1]};
        }
    } else if (name == "comment") {
        if (const auto c = read_if<xt_comment_info>(data)) {
            rule.comment = bounded_name(c->comment, sizeof c->comment);
        }
    } else if (name == "conntrack") {
        rule.ct_orig_dport = ct_orig_dport(data, revision);
    } else if (name == "rpfilter") {
        const auto rp = read_if<xt_rpfilter_info>(data);
        rule.rpfilter_invert = rp && (rp->flags & XT_RPFILTER_INVERT) != 0;
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

} // namespace

XtRule decode_foreign_entry(Family family, const std::string& chain,
                            std::span<const std::uint8_t> bytes) {
    const EntryWalk walk = walk_entry(family, bytes);
    XtRule rule;
    rule.chain = chain;
    rule.protocol = family == Family::ipv4 ? entry_protocol(read_at<ipt_entry>(bytes, 0))
                                           : entry_protocol(read_at<ip6t_entry>(bytes, 0));
    for (const EntryPart& match : walk.matches) {
        decode_match(match.name, match.revision, match.data, rule);
    }
    rule.target = walk.target.name;
    rule.target_revision = walk.target.revision;
    rule.target_info.assign(walk.target.data.begin(), walk.target.data.end());
    return rule;
}

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
    const Table handle = Table::open(family, name.c_str());
    std::vector<XtRule> rules;
    handle.for_each_entry([&](const std::string& chain, std::span<const std::uint8_t> bytes) {
        try {
            rules.push_back(decode_foreign_entry(family, chain, bytes));
        } catch (const EntryError& e) {
            throw EntryError("iptables-legacy " + std::string(to_string(family)) + " table " +
                             name + ", chain " + chain + ": " + e.what());
        }
    });
    return rules;
}

std::vector<NatForward> legacy_nat_forwards() {
    std::vector<NatForward> out;
    for (const Family family : {Family::ipv4, Family::ipv6}) {
        for (const XtRule& rule : legacy_rules(family, "nat")) {
            const auto protocol = netlink::protocol_of(rule.protocol);
            const auto to = netlink::decode_nat_target(rule.target, rule.target_revision, family,
                                                       rule.target_info);
            if (protocol && rule.dport && to) {
                out.push_back({"iptables-legacy " + std::string(to_string(family)) +
                                   " table nat, chain " + rule.chain,
                               family, protocol, *rule.dport, *to});
            }
        }
    }
    return out;
}

} // namespace memguard::iptc
