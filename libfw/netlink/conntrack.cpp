#include "conntrack.hpp"

#include "detail.hpp"
#include "socket.hpp"

#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>

namespace memguard::netlink {

namespace {

// A dump answers with CT_NEW messages.
constexpr std::uint16_t kCtNew = detail::nfnl_type(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW);
constexpr std::uint16_t kCtGet = detail::nfnl_type(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET);
constexpr std::uint16_t kCtDelete = detail::nfnl_type(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE);

// CTA_FILTER_ORIG_FLAGS bits: the kernel's CTA_FILTER_F_* (net/netfilter/nf_internals.h), which
// the uapi headers do not export.
constexpr std::uint32_t kFilterProtoNum = 1u << 3;     // CTA_FILTER_F_CTA_PROTO_NUM
constexpr std::uint32_t kFilterProtoDstPort = 1u << 5; // CTA_FILTER_F_CTA_PROTO_DST_PORT

// A sweep keeps at most this many of the sources it cut, for the log line that reports it.
constexpr std::size_t kSweepSourcesKept = 8;

// One policy per nesting level of a ctnetlink entry (nfnetlink_conntrack.h):
//   CTA_TUPLE_ORIG → CTA_TUPLE_IP    → CTA_IP_V{4,6}_{SRC,DST}
//                  → CTA_TUPLE_PROTO → CTA_PROTO_NUM, CTA_PROTO_{SRC,DST}_PORT (be16)
//   CTA_ZONE (be16), CTA_ID (be32), CTA_STATUS (be32, IPS_* bits)
constexpr detail::AttrPolicy<CTA_MAX + 1> kEntryPolicy = [] {
    detail::AttrPolicy<CTA_MAX + 1> p{};
    p[CTA_TUPLE_ORIG] = {MNL_TYPE_NESTED, 0};
    p[CTA_STATUS] = {MNL_TYPE_U32, 0};
    p[CTA_ZONE] = {MNL_TYPE_U16, 0};
    p[CTA_ID] = {MNL_TYPE_U32, 0};
    return p;
}();
constexpr detail::AttrPolicy<CTA_TUPLE_MAX + 1> kTuplePolicy = [] {
    detail::AttrPolicy<CTA_TUPLE_MAX + 1> p{};
    p[CTA_TUPLE_IP] = {MNL_TYPE_NESTED, 0};
    p[CTA_TUPLE_PROTO] = {MNL_TYPE_NESTED, 0};
    return p;
}();
constexpr detail::AttrPolicy<CTA_IP_MAX + 1> kIpPolicy = [] {
    detail::AttrPolicy<CTA_IP_MAX + 1> p{};
    p[CTA_IP_V4_SRC] = {MNL_TYPE_BINARY, 4};
    p[CTA_IP_V4_DST] = {MNL_TYPE_BINARY, 4};
    p[CTA_IP_V6_SRC] = {MNL_TYPE_BINARY, 16};
    p[CTA_IP_V6_DST] = {MNL_TYPE_BINARY, 16};
    return p;
}();
constexpr detail::AttrPolicy<CTA_PROTO_MAX + 1> kProtoPolicy = [] {
    detail::AttrPolicy<CTA_PROTO_MAX + 1> p{};
    p[CTA_PROTO_NUM] = {MNL_TYPE_U8, 0};
    p[CTA_PROTO_SRC_PORT] = {MNL_TYPE_U16, 0};
    p[CTA_PROTO_DST_PORT] = {MNL_TYPE_U16, 0};
    return p;
}();

std::uint8_t af(Family family) {
    return family == Family::ipv4 ? AF_INET : AF_INET6;
}

Network host(Family family, const nlattr* attr) {
    Network n;
    n.family = family;
    std::memcpy(n.addr.data(), mnl_attr_get_payload(attr), n.size());
    n.prefix = n.max_prefix();
    return n;
}

bool has_ports(std::uint8_t l4proto) {
    return l4proto == IPPROTO_TCP || l4proto == IPPROTO_UDP;
}

std::uint8_t ip_protocol(Protocol p) {
    return p == Protocol::tcp ? IPPROTO_TCP : IPPROTO_UDP;
}

// CTA_TUPLE_ORIG's content → tuple (addresses, protocol, ports).
std::optional<ConntrackTuple> parse_tuple(const nlattr* orig, Family family) {
    detail::AttrTable tuple(kTuplePolicy);
    if (!tuple.parse(orig) || tuple[CTA_TUPLE_IP] == nullptr || tuple[CTA_TUPLE_PROTO] == nullptr) {
        return std::nullopt;
    }
    detail::AttrTable ip(kIpPolicy);
    if (!ip.parse(tuple[CTA_TUPLE_IP])) {
        return std::nullopt;
    }
    const nlattr* src = family == Family::ipv4 ? ip[CTA_IP_V4_SRC] : ip[CTA_IP_V6_SRC];
    const nlattr* dst = family == Family::ipv4 ? ip[CTA_IP_V4_DST] : ip[CTA_IP_V6_DST];
    if (src == nullptr || dst == nullptr) {
        return std::nullopt; // no address of the message's family
    }
    detail::AttrTable proto(kProtoPolicy);
    if (!proto.parse(tuple[CTA_TUPLE_PROTO]) || proto[CTA_PROTO_NUM] == nullptr) {
        return std::nullopt;
    }
    ConntrackTuple t;
    t.family = family;
    t.source = host(family, src);
    t.destination = host(family, dst);
    t.l4proto = mnl_attr_get_u8(proto[CTA_PROTO_NUM]);
    if (has_ports(t.l4proto)) {
        if (proto[CTA_PROTO_SRC_PORT] == nullptr || proto[CTA_PROTO_DST_PORT] == nullptr) {
            return std::nullopt;
        }
        t.source_port = detail::load_be16(mnl_attr_get_payload(proto[CTA_PROTO_SRC_PORT]));
        t.destination_port = detail::load_be16(mnl_attr_get_payload(proto[CTA_PROTO_DST_PORT]));
    }
    return t;
}

void put_address(nlmsghdr* nlh, std::uint16_t type, const Network& n) {
    mnl_attr_put(nlh, type, n.size(), n.addr.data());
}

// IPCTNL_MSG_CT_GET, NLM_F_DUMP, for one family (the kernel filters on nfgen_family).
nlmsghdr* put_dump_header(detail::Request& req, Family family) {
    nlmsghdr* nlh = req.header(kCtGet, NLM_F_REQUEST | NLM_F_DUMP);
    detail::put_nfgenmsg(nlh, af(family), 0);
    return nlh;
}

std::string endpoint(const Network& address, std::uint16_t port) {
    const std::string a = address.to_string();
    return (address.family == Family::ipv6 ? "[" + a + "]" : a) + ":" + std::to_string(port);
}

std::string describe(const ConntrackTuple& t) {
    const auto p = t.protocol();
    return std::string(p ? to_string(*p) : "proto " + std::to_string(t.l4proto)) + " " +
           endpoint(t.source, t.source_port) + " -> " + endpoint(t.destination, t.destination_port);
}

} // namespace

std::optional<Protocol> ConntrackTuple::protocol() const {
    switch (l4proto) {
    case IPPROTO_TCP:
        return Protocol::tcp;
    case IPPROTO_UDP:
        return Protocol::udp;
    default:
        return std::nullopt;
    }
}

bool ConntrackScope::contains(const ConntrackTuple& tuple) const {
    const auto protocol = tuple.protocol();
    return protocol &&
           std::find(families.begin(), families.end(), tuple.family) != families.end() &&
           std::find(protocols.begin(), protocols.end(), *protocol) != protocols.end() &&
           std::find(ports.begin(), ports.end(), tuple.destination_port) != ports.end();
}

std::optional<ConntrackTuple> parse_conntrack_message(std::span<const std::uint8_t> nlmsg) {
    const detail::MessageView view(nlmsg);
    const nlmsghdr* nlh = view.get();
    if (nlh == nullptr || (nlh->nlmsg_type != kCtNew && nlh->nlmsg_type != kCtDelete)) {
        return std::nullopt;
    }
    const auto family = view.nfgen_family();
    if (!family) {
        return std::nullopt;
    }
    detail::AttrTable entry(kEntryPolicy);
    if (!entry.parse(nlh, sizeof(nfgenmsg)) || entry[CTA_TUPLE_ORIG] == nullptr) {
        return std::nullopt;
    }
    auto tuple = parse_tuple(entry[CTA_TUPLE_ORIG], *family);
    if (!tuple) {
        return std::nullopt;
    }
    if (entry[CTA_ZONE] != nullptr) {
        tuple->zone = detail::load_be16(mnl_attr_get_payload(entry[CTA_ZONE]));
    }
    if (entry[CTA_ID] != nullptr) {
        tuple->id = detail::load_be32(mnl_attr_get_payload(entry[CTA_ID]));
    }
    if (entry[CTA_STATUS] != nullptr) {
        tuple->dnat =
            (detail::load_be32(mnl_attr_get_payload(entry[CTA_STATUS])) & IPS_DST_NAT) != 0;
    }
    return tuple;
}

// The request names the entry by its original tuple, as `conntrack -D` does:
//   conntrack -D -p tcp -s 10.0.0.5 -d 10.0.0.1 --sport 40000 --dport 11211 [-w zone]
// plus CTA_ID, with which the kernel refuses (ENOENT) to delete a newer entry that took the
// same tuple after the dump.
std::vector<std::uint8_t> build_conntrack_delete(const ConntrackTuple& tuple) {
    if (!tuple.protocol() || tuple.source.family != tuple.family ||
        tuple.destination.family != tuple.family) {
        throw std::invalid_argument("conntrack delete: not a tcp/udp tuple of one family: " +
                                    describe(tuple));
    }
    const bool v4 = tuple.family == Family::ipv4;
    detail::Request req;
    nlmsghdr* nlh = req.header(kCtDelete, NLM_F_REQUEST | NLM_F_ACK);
    detail::put_nfgenmsg(nlh, af(tuple.family), 0);

    nlattr* orig = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
    nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
    put_address(nlh, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, tuple.source);
    put_address(nlh, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, tuple.destination);
    mnl_attr_nest_end(nlh, ip);
    nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(nlh, CTA_PROTO_NUM, tuple.l4proto);
    mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, detail::to_be16(tuple.source_port));
    mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, detail::to_be16(tuple.destination_port));
    mnl_attr_nest_end(nlh, proto);
    mnl_attr_nest_end(nlh, orig);

    if (tuple.zone) {
        mnl_attr_put_u16(nlh, CTA_ZONE, detail::to_be16(*tuple.zone));
    }
    if (tuple.id) {
        mnl_attr_put_u32(nlh, CTA_ID, detail::to_be32(*tuple.id));
    }
    return req.copy();
}

// The dump `conntrack -L -f ipv4 -p tcp --dport 11211` sends: the original tuple with only
// what is matched on, and the filter naming those attributes. CTA_TUPLE_IP may be left out: the
// kernel reads it only for the address flags (ctnetlink_parse_tuple_filter). Without
// CTA_FILTER_REPLY_FLAGS the reply tuple is not matched, and no CTA_TUPLE_REPLY is needed.
std::vector<std::uint8_t> build_conntrack_filtered_dump(Family family, Protocol protocol,
                                                        std::uint16_t port) {
    detail::Request req;
    nlmsghdr* nlh = put_dump_header(req, family);

    nlattr* orig = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
    nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(nlh, CTA_PROTO_NUM, ip_protocol(protocol));
    mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, detail::to_be16(port));
    mnl_attr_nest_end(nlh, proto);
    mnl_attr_nest_end(nlh, orig);

    // The kernel parses this nest strictly (nla_parse_nested): NLA_F_NESTED must be set, which
    // mnl_attr_nest_start does.
    nlattr* filter = mnl_attr_nest_start(nlh, CTA_FILTER);
    mnl_attr_put_u32(nlh, CTA_FILTER_ORIG_FLAGS, kFilterProtoNum | kFilterProtoDstPort);
    mnl_attr_nest_end(nlh, filter);
    return req.copy();
}

namespace {

using TupleHandler = std::function<void(const ConntrackTuple&)>;

// Runs one dump request; every entry in the answer that parses goes to `on_entry`.
void dump(Socket& socket, std::span<std::uint8_t> request, const std::string& what,
          const TupleHandler& on_entry) {
    socket.transact(request, what, [&](std::span<const std::uint8_t> message) {
        if (auto tuple = parse_conntrack_message(message)) {
            on_entry(*tuple);
        }
    });
}

void dump_family(Socket& socket, Family family, const TupleHandler& on_entry) {
    detail::Request request;
    (void)put_dump_header(request, family);
    dump(socket, request.bytes(), "dump conntrack table (" + std::string(to_string(family)) + ")",
         on_entry);
}

// Deletes the entries, each delete ACKed, in order; `on_deleted` hears of each one deleted.
// Returns how many were.
std::size_t delete_entries(Socket& socket, const std::vector<ConntrackTuple>& doomed,
                           const TupleHandler& on_deleted = {}) {
    std::size_t deleted = 0;
    for (const auto& tuple : doomed) {
        auto request = build_conntrack_delete(tuple);
        const std::string what = "delete conntrack entry " + describe(tuple) + " (" +
                                 std::to_string(deleted) + " of " + std::to_string(doomed.size()) +
                                 " deleted before)";
        try {
            socket.transact(request, what);
            ++deleted;
            if (on_deleted) {
                on_deleted(tuple);
            }
        } catch (const NetlinkError& e) {
            if (e.error() != ENOENT) {
                throw;
            }
            // Already gone: it timed out or closed between the dump and now, or (CTA_ID) a new
            // entry took its tuple. Either way the connection we meant is no longer tracked.
        }
    }
    return deleted;
}

using TuplePredicate = std::function<bool(const ConntrackTuple&)>;

// One filtered dump per family x protocol x port. An entry outside its dump's filter means the
// kernel ignored CTA_FILTER: `kernel_filtered` turns false, and the entry is left to the dump
// whose filter it fits, so that none is taken twice.
std::vector<ConntrackTuple> collect_filtered(Socket& socket, const ConntrackScope& scope,
                                             const TuplePredicate& wanted, bool& kernel_filtered) {
    std::vector<ConntrackTuple> found;
    for (const Family family : scope.families) {
        for (const Protocol protocol : scope.protocols) {
            for (const std::uint16_t port : scope.ports) {
                auto request = build_conntrack_filtered_dump(family, protocol, port);
                const std::string what =
                    "dump conntrack entries (" + std::string(to_string(family)) + " " +
                    std::string(to_string(protocol)) + " dport " + std::to_string(port) + ")";
                dump(socket, request, what, [&](const ConntrackTuple& t) {
                    if (t.family != family || t.protocol() != protocol ||
                        t.destination_port != port) {
                        kernel_filtered = false;
                    } else if (wanted(t)) {
                        found.push_back(t);
                    }
                });
            }
        }
    }
    return found;
}

std::vector<ConntrackTuple> collect_unfiltered(Socket& socket, const ConntrackScope& scope,
                                               const TuplePredicate& wanted) {
    std::vector<ConntrackTuple> found;
    for (const Family family : scope.families) {
        dump_family(socket, family, [&](const ConntrackTuple& t) {
            if (t.family == family && scope.contains(t) && wanted(t)) {
                found.push_back(t);
            }
        });
    }
    return found;
}

} // namespace

ConntrackEntries conntrack_entries(Socket& socket, const ConntrackScope& scope,
                                   const TuplePredicate& wanted) {
    ConntrackEntries result;
    try {
        result.entries = collect_filtered(socket, scope, wanted, result.filtered);
    } catch (const NetlinkError& e) {
        // The kernel refused the filter before the dump started: EOPNOTSUPP for a flag it does
        // not know (ctnetlink_parse_filter), EINVAL where the flags have an NLA_POLICY_MASK or
        // the tuple does not suit it. No dump is under way, so the socket is still good; what
        // was collected is read again, unfiltered.
        if (e.error() != EINVAL && e.error() != EOPNOTSUPP) {
            throw;
        }
        result.filtered = false;
        result.entries = collect_unfiltered(socket, scope, wanted);
    }
    return result;
}

SweepResult sweep(const std::vector<Family>& families, const std::vector<Protocol>& protocols,
                  const std::vector<std::uint16_t>& ports, const NetworkIndex& allowed,
                  const NetworkIndex& keep, const NetworkIndex& destinations) {
    return sweep(families, protocols, ports, [&](const ConntrackTuple& t) {
        return destinations.contains(t.destination) && !allowed.contains(t.source) &&
               !keep.contains(t.source);
    });
}

SweepResult sweep(const std::vector<Family>& families, const std::vector<Protocol>& protocols,
                  const std::vector<std::uint16_t>& ports,
                  const std::function<bool(const ConntrackTuple&)>& unallowed) {
    SweepResult result;
    if (families.empty() || protocols.empty() || ports.empty()) {
        return result;
    }
    Socket socket(Bus::netfilter);
    // Collect first, delete after: a socket answers one request at a time, and a dump must
    // finish before the deletes are sent.
    auto doomed = conntrack_entries(socket, {families, protocols, ports}, unallowed);
    result.filtered = doomed.filtered;

    std::vector<Network> cut;
    result.deleted = delete_entries(socket, doomed.entries,
                                    [&](const ConntrackTuple& t) { cut.push_back(t.source); });
    std::sort(cut.begin(), cut.end());
    cut.erase(std::unique(cut.begin(), cut.end()), cut.end());
    result.distinct_sources = cut.size();
    cut.resize(std::min(cut.size(), kSweepSourcesKept));
    result.sources = std::move(cut);
    return result;
}

} // namespace memguard::netlink
