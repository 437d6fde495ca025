// Ipset's requests: each IPSET_CMD_* message built and sent through the one socket.
#include "ipset.hpp"

// glibc's netinet/in.h must come before the kernel's headers (linux/netfilter.h pulls in
// linux/in.h), which otherwise define in_addr a second time.
#include <netinet/in.h>

#include "detail.hpp"
#include "ipset_wire.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/ipset/ip_set.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace memguard::netlink {

namespace {

using ipset_wire::check_name;
using ipset_wire::explain;
using ipset_wire::Explained;
using ipset_wire::family_name;
using ipset_wire::hashsize_for;
using ipset_wire::ipset_type;
using ipset_wire::kHashNet;
using ipset_wire::maxelem_for;
using ipset_wire::parse_list;
using ipset_wire::parse_type_answer;

// Attribute types with NLA_F_NET_BYTEORDER: the kernel refuses a u32 or an address without it
// (ip_set_attr_netorder / ip_set_optattr_netorder: IPSET_ERR_PROTOCOL).
constexpr std::uint16_t net_order(unsigned type) {
    return static_cast<std::uint16_t>(type | NLA_F_NET_BYTEORDER);
}

// The first hash:net revision that takes IPSET_ATTR_INITVAL (ip_set_hash_net.c: "bucketsize,
// initval support").
constexpr std::uint8_t hash_net_initval_revision = 7;

// One IPSET_CMD_ADD message at most this long: even echoed whole in an error answer (kernels
// without NETLINK_CAP_ACK) it fits the socket's 32 KiB receive buffer. About 1,000 IPv4 hosts
// (16 bytes each), 680 IPv4 prefixes (24), 580 IPv6 hosts (28) or 450 IPv6 prefixes (36).
constexpr std::size_t kAddMessageBytes = 16384;
// The most one member takes: IPSET_ATTR_DATA { IPSET_ATTR_IP { IPADDR_IPV6 (16) }, CIDR (u8) }.
constexpr std::size_t kMemberBytes =
    MNL_ATTR_HDRLEN + MNL_ATTR_HDRLEN + MNL_ATTR_HDRLEN + 16 + MNL_ATTR_HDRLEN + MNL_ALIGN(1);
static_assert(kMemberBytes == 36);
// The IPSET_ATTR_ADT nest's length is a u16.
static_assert(kAddMessageBytes < 0xFFFF);

std::uint8_t nfproto(Family family) {
    return family == Family::ipv4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
}

// Every ipset request starts alike: the header, nfgenmsg (AF_INET like libipset's; the kernel
// ignores it), and IPSET_ATTR_PROTOCOL, which every command checks (protocol_min_failed).
nlmsghdr* put_common(nlmsghdr* nlh) {
    detail::put_nfgenmsg(nlh, NFPROTO_IPV4, 0);
    mnl_attr_put_u8(nlh, IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL);
    return nlh;
}

nlmsghdr* start(detail::Request& request, unsigned command, std::uint16_t flags) {
    return put_common(request.header(ipset_type(command), flags));
}

// The same in storage of our own (an add's batch outgrows detail::Request).
nlmsghdr* start(std::vector<std::uint32_t>& storage, unsigned command, std::uint16_t flags) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(storage.data());
    nlh->nlmsg_type = ipset_type(command);
    nlh->nlmsg_flags = flags;
    return put_common(nlh);
}

// One member of an add, as `ipset add` and `ipset restore` put it (hash_net4_uadt reads it):
//   IPSET_ATTR_DATA { IPSET_ATTR_IP { IPSET_ATTR_IPADDR_IPV4|6 }, [IPSET_ATTR_CIDR] }
// A full-length prefix goes without CIDR: the kernel takes the host length (HOST_MASK) then.
void put_member(nlmsghdr* nlh, const Network& n) {
    nlattr* data = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
    nlattr* ip = mnl_attr_nest_start(nlh, IPSET_ATTR_IP);
    mnl_attr_put(
        nlh, net_order(n.family == Family::ipv4 ? IPSET_ATTR_IPADDR_IPV4 : IPSET_ATTR_IPADDR_IPV6),
        n.size(), n.addr.data());
    mnl_attr_nest_end(nlh, ip);
    if (n.prefix != n.max_prefix()) {
        mnl_attr_put_u8(nlh, IPSET_ATTR_CIDR, static_cast<std::uint8_t>(n.prefix));
    }
    mnl_attr_nest_end(nlh, data);
}

} // namespace

Ipset::Ipset() : socket_(std::in_place, Bus::netfilter) {}

void Ipset::transact(std::span<std::uint8_t> request, const std::string& what,
                     const std::string& set, const MessageHandler& on_reply) {
    if (!socket_) {
        socket_.emplace(Bus::netfilter);
    }
    try {
        socket_->transact(request, what, on_reply);
    } catch (const NetlinkError& e) {
        // A failed request may leave answers unread; a dump cut short keeps its set referenced
        // in the kernel until the dump ends or the socket closes (ip_set_dump_done), and while
        // referenced the set can be neither destroyed nor swapped. So: closed now, a new socket
        // for the next request.
        socket_.reset();
        if (e.error() == ENOENT) {
            throw NetlinkError(what + ": no set named " + set, ENOENT);
        }
        if (e.error() < IPSET_ERR_PRIVATE) {
            throw;
        }
        const Explained ex = explain(e.error());
        throw NetlinkError(what + ": " + ex.why, ex.error);
    } catch (...) {
        socket_.reset();
        throw;
    }
}

std::optional<IpsetHeader> Ipset::header(const std::string& name) {
    const std::string what = "ipset list -t " + name;
    check_name(what, name);
    detail::Request request;
    nlmsghdr* nlh = start(request, IPSET_CMD_LIST, NLM_F_REQUEST | NLM_F_DUMP);
    mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name.c_str());
    // ip_set_dump_policy: a u32 the kernel reads in network byte order (ip_set_get_h32).
    mnl_attr_put_u32(nlh, net_order(IPSET_ATTR_FLAGS), detail::to_be32(IPSET_FLAG_LIST_HEADER));
    std::optional<IpsetHeader> header;
    std::vector<Network> none;
    try {
        transact(request.bytes(), what, name, [&](std::span<const std::uint8_t> message) {
            parse_list(message, header, none, what + ": answer");
        });
    } catch (const NetlinkError& e) {
        if (e.error() == ENOENT) {
            return std::nullopt;
        }
        throw;
    }
    if (!header) {
        throw NetlinkError(what + ": answer without the set's header", EBADMSG);
    }
    return header;
}

std::vector<Network> Ipset::members(const std::string& name) {
    const std::string what = "ipset list " + name;
    check_name(what, name);
    detail::Request request;
    nlmsghdr* nlh = start(request, IPSET_CMD_LIST, NLM_F_REQUEST | NLM_F_DUMP);
    mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name.c_str());
    std::optional<IpsetHeader> header;
    std::vector<Network> members;
    const std::string context = what + ": answer";
    transact(request.bytes(), what, name, [&](std::span<const std::uint8_t> message) {
        parse_list(message, header, members, context);
    });
    std::sort(members.begin(), members.end());
    return members;
}

// IPSET_CMD_TYPE, as `ipset create` asks before it creates: which hash:net revisions the
// kernel has for `family` (loading ip_set_hash_net if need be).
std::uint8_t Ipset::hash_net_revision(const std::string& context, Family family) {
    const std::string what = context + ": look up the kernel's hash:net revisions";
    detail::Request request;
    nlmsghdr* nlh = start(request, IPSET_CMD_TYPE, NLM_F_REQUEST | NLM_F_ACK);
    mnl_attr_put_strz(nlh, IPSET_ATTR_TYPENAME, kHashNet);
    mnl_attr_put_u8(nlh, IPSET_ATTR_FAMILY, nfproto(family));
    std::optional<std::uint8_t> revision;
    transact(request.bytes(), what, kHashNet,
             [&](std::span<const std::uint8_t> message) { revision = parse_type_answer(message); });
    if (!revision) {
        throw NetlinkError(what + ": answer without a revision", EBADMSG);
    }
    return *revision;
}

// ipset create NAME hash:net family inet|inet6 hashsize H maxelem M
void Ipset::create(const std::string& name, Family family, std::size_t count) {
    const std::string what =
        "ipset create " + name + " (hash:net " + std::string(family_name(family)) + ")";
    check_name(what, name);
    const std::uint8_t revision = hash_net_revision(what, family);
    detail::Request request;
    // NLM_F_EXCL: an existing set is an error (without it the kernel accepts an identical one,
    // as `ipset create -exist` does).
    nlmsghdr* nlh =
        start(request, IPSET_CMD_CREATE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name.c_str());
    mnl_attr_put_strz(nlh, IPSET_ATTR_TYPENAME, kHashNet);
    mnl_attr_put_u8(nlh, IPSET_ATTR_REVISION, revision);
    mnl_attr_put_u8(nlh, IPSET_ATTR_FAMILY, nfproto(family));
    nlattr* data = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
    mnl_attr_put_u32(nlh, net_order(IPSET_ATTR_HASHSIZE), detail::to_be32(hashsize_for(count)));
    mnl_attr_put_u32(nlh, net_order(IPSET_ATTR_MAXELEM), detail::to_be32(maxelem_for(count)));
    if (revision >= hash_net_initval_revision) {
        mnl_attr_put_u32(nlh, net_order(IPSET_ATTR_INITVAL), detail::to_be32(owner_initval));
    }
    mnl_attr_nest_end(nlh, data);
    transact(request.bytes(), what, name);
}

// ipset restore, as many of these as it takes:
//   add NAME 10.0.0.1
//   add NAME 10.1.0.0/16
void Ipset::add(const std::string& name, std::span<const Network> networks) {
    const std::string what = "ipset add " + name;
    check_name(what, name);
    if (networks.empty()) {
        return;
    }
    // The set's family first, so a network of the other family is refused by name here rather
    // than by the kernel as a malformed request (IPSET_ERR_PROTOCOL) halfway through.
    const auto head = header(name);
    if (!head) {
        throw NetlinkError(what + ": no set named " + name, ENOENT);
    }
    for (const Network& n : networks) {
        if (n.family != head->family) {
            throw std::invalid_argument(what + ": " + n.to_string() + " is not " +
                                        std::string(family_name(head->family)));
        }
        if (n.prefix == 0 || n.prefix > n.max_prefix()) {
            throw std::invalid_argument(what + ": hash:net cannot hold " + n.to_string() +
                                        " (prefix 1 to " + std::to_string(n.max_prefix()) + ")");
        }
    }

    std::vector<std::uint32_t> storage(kAddMessageBytes / sizeof(std::uint32_t));
    std::size_t done = 0;
    while (done < networks.size()) {
        // No NLM_F_EXCL: a member already there is no error (IPSET_FLAG_EXIST).
        nlmsghdr* nlh = start(storage, IPSET_CMD_ADD, NLM_F_REQUEST | NLM_F_ACK);
        mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name.c_str());
        // The kernel wants a line number beside ADT (ip_set_uadd). Our members carry none of
        // their own, so a failure comes back as a plain NLMSG_ERROR, not as the whole request
        // echoed with the failing line filled in (call_ad).
        mnl_attr_put_u32(nlh, IPSET_ATTR_LINENO, 0);
        nlattr* adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
        const std::size_t first = done;
        while (done < networks.size() && nlh->nlmsg_len + kMemberBytes <= kAddMessageBytes) {
            put_member(nlh, networks[done].canonical());
            ++done;
        }
        mnl_attr_nest_end(nlh, adt);
        const std::span<std::uint8_t> bytes(reinterpret_cast<std::uint8_t*>(storage.data()),
                                            nlh->nlmsg_len);
        transact(bytes,
                 what + " (members " + std::to_string(first + 1) + " to " + std::to_string(done) +
                     " of " + std::to_string(networks.size()) + ")",
                 name);
    }
}

// ipset swap A B
// NOLINTNEXTLINE(bugprone-exception-escape): see ipset.hpp
void Ipset::swap(const std::string& a, const std::string& b) {
    const std::string what = "ipset swap " + a + " " + b;
    check_name(what, a);
    check_name(what, b);
    detail::Request request;
    nlmsghdr* nlh = start(request, IPSET_CMD_SWAP, NLM_F_REQUEST | NLM_F_ACK);
    mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, a.c_str());
    mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME2, b.c_str());
    transact(request.bytes(), what, a);
}

// ipset destroy NAME (never without a name: that would destroy every set; check_name refuses "")
void Ipset::destroy(const std::string& name) {
    const std::string what = "ipset destroy " + name;
    check_name(what, name);
    detail::Request request;
    // NLM_F_EXCL: newer kernels answer a missing set with success unless it is given (what
    // `ipset destroy -exist` leaves out); we want ENOENT.
    nlmsghdr* nlh = start(request, IPSET_CMD_DESTROY, NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL);
    mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name.c_str());
    transact(request.bytes(), what, name);
}

} // namespace memguard::netlink
