#include "ipset.hpp"

// glibc's netinet/in.h must come before the kernel's headers (linux/netfilter.h pulls in
// linux/in.h), which otherwise define in_addr a second time.
#include <netinet/in.h>
#include <sys/socket.h>

#include "detail.hpp"
#include "fd.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter/ipset/ip_set_hash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace memguard::netlink {

namespace {

constexpr std::uint16_t ipset_type(unsigned command) {
    return detail::nfnl_type(NFNL_SUBSYS_IPSET, command);
}

// Attribute types with NLA_F_NET_BYTEORDER: the kernel refuses a u32 or an address without it
// (ip_set_attr_netorder / ip_set_optattr_netorder: IPSET_ERR_PROTOCOL).
constexpr std::uint16_t net_order(unsigned type) {
    return static_cast<std::uint16_t>(type | NLA_F_NET_BYTEORDER);
}

constexpr const char* kHashNet = "hash:net";
// The newest hash:net revision ipset 7.x userspace also knows (net/netfilter/ipset/
// ip_set_hash_net.c: 7 = bucketsize and initval). A kernel offering newer ones still gets 7, so
// `ipset list` keeps understanding our sets; an older kernel's newest is taken as it is.
constexpr std::uint8_t kHashNetRevision = 7;
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

// Sizing of a new set (see Ipset::create).
constexpr std::size_t kMinMaxelem = 65536;
constexpr std::size_t kMinHashsize = 1024;
constexpr std::size_t kMaxHashsize = std::size_t{1} << 24;

// Command level of IPSET_CMD_LIST and IPSET_CMD_TYPE answers (ip_set_core.c: ip_set_dump_do,
// ip_set_type). The first message of a set carries TYPENAME, FAMILY, REVISION, INDEX and the
// header nest DATA; every message may carry members in ADT.
constexpr detail::AttrPolicy<IPSET_ATTR_CMD_MAX + 1> kCommandPolicy = [] {
    detail::AttrPolicy<IPSET_ATTR_CMD_MAX + 1> p{};
    p[IPSET_ATTR_TYPENAME] = {MNL_TYPE_NUL_STRING, 0};
    p[IPSET_ATTR_REVISION] = {MNL_TYPE_U8, 0};
    p[IPSET_ATTR_FAMILY] = {MNL_TYPE_U8, 0};
    p[IPSET_ATTR_DATA] = {MNL_TYPE_NESTED, 0};
    p[IPSET_ATTR_ADT] = {MNL_TYPE_NESTED, 0};
    p[IPSET_ATTR_REVISION_MIN] = {MNL_TYPE_U8, 0};
    return p;
}();
// The header nest (the hash types' mtype_head); u32 in network byte order.
constexpr detail::AttrPolicy<IPSET_ATTR_CREATE_MAX + 1> kHeadPolicy = [] {
    detail::AttrPolicy<IPSET_ATTR_CREATE_MAX + 1> p{};
    p[IPSET_ATTR_REFERENCES] = {MNL_TYPE_U32, 0};
    p[IPSET_ATTR_ELEMENTS] = {MNL_TYPE_U32, 0};
    p[IPSET_ATTR_INITVAL] = {MNL_TYPE_U32, 0};
    return p;
}();
// One member, IPSET_ATTR_DATA inside ADT (hash_net4_data_list, hash_net6_data_list): the
// address nest, its CIDR, and CADT_FLAGS (u32, network order) for a nomatch entry. IP_TO is
// read only to refuse it (bitmap and range types; never hash:net).
constexpr detail::AttrPolicy<IPSET_ATTR_ADT_MAX + 1> kMemberPolicy = [] {
    detail::AttrPolicy<IPSET_ATTR_ADT_MAX + 1> p{};
    p[IPSET_ATTR_IP] = {MNL_TYPE_NESTED, 0};
    p[IPSET_ATTR_IP_TO] = {MNL_TYPE_NESTED, 0};
    p[IPSET_ATTR_CIDR] = {MNL_TYPE_U8, 0};
    p[IPSET_ATTR_CADT_FLAGS] = {MNL_TYPE_U32, 0};
    return p;
}();
constexpr detail::AttrPolicy<IPSET_ATTR_IPADDR_MAX + 1> kAddressPolicy = [] {
    detail::AttrPolicy<IPSET_ATTR_IPADDR_MAX + 1> p{};
    p[IPSET_ATTR_IPADDR_IPV4] = {MNL_TYPE_BINARY, 4};
    p[IPSET_ATTR_IPADDR_IPV6] = {MNL_TYPE_BINARY, 16};
    return p;
}();

// `ipset list` names the families inet and inet6.
std::string_view family_name(Family family) {
    return family == Family::ipv4 ? "inet" : "inet6";
}

std::uint8_t nfproto(Family family) {
    return family == Family::ipv4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
}

void check_name(const std::string& what, const std::string& name) {
    if (name.empty() || name.size() > IPSET_MAXNAMELEN - 1 ||
        name.find('\0') != std::string::npos) {
        // Empty matters most: IPSET_CMD_DESTROY without a name destroys every set.
        throw std::invalid_argument(what + ": a set name is 1 to " +
                                    std::to_string(IPSET_MAXNAMELEN - 1) +
                                    " characters without NUL (IPSET_MAXNAMELEN), not '" + name +
                                    "' (" + std::to_string(name.size()) + " bytes)");
    }
}

// ipset's private error codes (ip_set.h, ip_set_hash.h) → the nearest errno and what it means.
// strerror knows none of them ("Unknown error 4100"), so the reason goes into the message.
struct Explained {
    int error;
    std::string why;
};
Explained explain(int code) {
    switch (code) {
    case IPSET_ERR_PROTOCOL:
        return {EPROTO, "the kernel refused the request as malformed (IPSET_ERR_PROTOCOL)"};
    case IPSET_ERR_FIND_TYPE:
        return {EOPNOTSUPP, "set type or revision unknown to the kernel (IPSET_ERR_FIND_TYPE)"};
    case IPSET_ERR_MAX_SETS:
        return {ENOSPC, "the kernel's table of sets is full (IPSET_ERR_MAX_SETS)"};
    case IPSET_ERR_BUSY:
        return {EBUSY, "set in use by an iptables rule or a list:set (IPSET_ERR_BUSY)"};
    case IPSET_ERR_EXIST_SETNAME2:
        // Swap's meaning; rename (which we never send) uses it for "the new name is taken".
        return {ENOENT, "the second set does not exist (IPSET_ERR_EXIST_SETNAME2)"};
    case IPSET_ERR_TYPE_MISMATCH:
        return {EINVAL, "the sets differ in type or family (IPSET_ERR_TYPE_MISMATCH)"};
    case IPSET_ERR_EXIST:
        return {EEXIST, "member already in the set (IPSET_ERR_EXIST)"};
    case IPSET_ERR_INVALID_CIDR:
        return {EINVAL, "invalid CIDR (IPSET_ERR_INVALID_CIDR)"};
    case IPSET_ERR_INVALID_NETMASK:
        return {EINVAL, "invalid netmask (IPSET_ERR_INVALID_NETMASK)"};
    case IPSET_ERR_INVALID_FAMILY:
        return {EAFNOSUPPORT, "invalid family (IPSET_ERR_INVALID_FAMILY)"};
    case IPSET_ERR_REFERENCED:
        return {EBUSY, "set is referenced (IPSET_ERR_REFERENCED)"};
    case IPSET_ERR_IPADDR_IPV4:
    case IPSET_ERR_IPADDR_IPV6:
        return {EINVAL, "invalid address (IPSET_ERR_IPADDR_IPV4/6)"};
    case IPSET_ERR_HASH_FULL:
        return {ENOSPC, "the set is full: maxelem reached (IPSET_ERR_HASH_FULL)"};
    case IPSET_ERR_HASH_ELEM:
        return {EINVAL, "null-valued member (IPSET_ERR_HASH_ELEM)"};
    default:
        return {EPROTO, "ipset error " + std::to_string(code)};
    }
}

// ---- Parsing -------------------------------------------------------------------------------

[[noreturn]] void fail(std::string_view context, const std::string& why, int error = EBADMSG) {
    throw NetlinkError(std::string(context) + ": " + why, error);
}

// Throws unless attributes fill `len` bytes at `begin` exactly. The kernel pads each attribute
// and ends every nest and message right after its last one (nla_nest_end, nlmsg_end). libmnl's
// loops stop quietly at the first attribute that does not fit, so a cut or forged message would
// read as a shorter one: a member lost, or its CIDR (a /8 read as a /32). Bytes need not be
// aligned: lengths are copied out.
void check_filled(const void* begin, std::size_t len, std::string_view context,
                  std::string_view where) {
    const auto* bytes = static_cast<const std::uint8_t*>(begin);
    std::size_t offset = 0;
    while (len - offset >= sizeof(nlattr)) {
        std::uint16_t attr_len = 0;
        std::memcpy(&attr_len, bytes + offset + offsetof(nlattr, nla_len), sizeof attr_len);
        if (attr_len < sizeof(nlattr) || attr_len > len - offset) {
            fail(context, std::string(where) + ": attribute length " + std::to_string(attr_len) +
                              " with " + std::to_string(len - offset) + " bytes left");
        }
        offset += MNL_ALIGN(attr_len);
        if (offset > len) {
            fail(context, std::string(where) + ": last attribute not padded");
        }
    }
    if (offset != len) {
        fail(context, std::string(where) + ": " + std::to_string(len - offset) +
                          " bytes after the last attribute");
    }
}

void check_filled(const nlattr* nest, std::string_view context, std::string_view where) {
    check_filled(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), context, where);
}

Family set_family(std::uint8_t family, std::string_view context) {
    switch (family) {
    case NFPROTO_IPV4:
        return Family::ipv4;
    case NFPROTO_IPV6:
        return Family::ipv6;
    default:
        fail(context, "set family " + std::to_string(family) + " is neither inet nor inet6",
             EAFNOSUPPORT);
    }
}

IpsetHeader parse_header(const detail::AttrTable<IPSET_ATTR_CMD_MAX + 1>& command,
                         std::string_view context) {
    IpsetHeader header;
    header.type = mnl_attr_get_str(command[IPSET_ATTR_TYPENAME]);
    if (command[IPSET_ATTR_FAMILY] == nullptr) {
        fail(context, "set header without family");
    }
    header.family = set_family(mnl_attr_get_u8(command[IPSET_ATTR_FAMILY]), context);
    if (const nlattr* data = command[IPSET_ATTR_DATA]) {
        check_filled(data, context, "set header");
        detail::AttrTable head(kHeadPolicy);
        if (!head.parse(data)) {
            fail(context, "set header attribute of wrong type or length");
        }
        if (const nlattr* references = head[IPSET_ATTR_REFERENCES]) {
            header.references = detail::load_be32(mnl_attr_get_payload(references));
        }
        if (const nlattr* elements = head[IPSET_ATTR_ELEMENTS]) {
            header.elements = detail::load_be32(mnl_attr_get_payload(elements));
        }
        if (const nlattr* initval = head[IPSET_ATTR_INITVAL]) {
            header.initval = detail::load_be32(mnl_attr_get_payload(initval));
        }
    }
    return header;
}

// One IPSET_ATTR_DATA of the ADT nest → the member it describes.
Network parse_member(const nlattr* entry, std::string_view context) {
    if (mnl_attr_validate(entry, MNL_TYPE_NESTED) < 0) {
        fail(context, "member is not a nest");
    }
    check_filled(entry, context, "member");
    detail::AttrTable member(kMemberPolicy);
    if (!member.parse(entry)) {
        fail(context, "member attribute of wrong type or length");
    }
    const nlattr* ip = member[IPSET_ATTR_IP];
    if (ip == nullptr) {
        fail(context, "member without address");
    }
    check_filled(ip, context, "member address");
    detail::AttrTable address(kAddressPolicy);
    if (!address.parse(ip)) {
        fail(context, "member address of wrong length");
    }
    const nlattr* v4 = address[IPSET_ATTR_IPADDR_IPV4];
    const nlattr* v6 = address[IPSET_ATTR_IPADDR_IPV6];
    if ((v4 == nullptr) == (v6 == nullptr)) {
        fail(context, "member address must be exactly one IPv4 or IPv6 address");
    }
    Network n;
    n.family = v4 != nullptr ? Family::ipv4 : Family::ipv6;
    std::memcpy(n.addr.data(), mnl_attr_get_payload(v4 != nullptr ? v4 : v6), n.size());
    n.prefix = n.max_prefix();
    if (const nlattr* cidr = member[IPSET_ATTR_CIDR]) {
        const unsigned prefix = mnl_attr_get_u8(cidr);
        if (prefix > n.max_prefix()) {
            fail(context, "member " + n.to_string() + " with CIDR " + std::to_string(prefix));
        }
        n.prefix = prefix;
    }
    if (member[IPSET_ATTR_IP_TO] != nullptr) {
        fail(context, "member " + n.to_string() + " is a range (IPSET_ATTR_IP_TO)", EOPNOTSUPP);
    }
    if (const nlattr* flags = member[IPSET_ATTR_CADT_FLAGS];
        flags != nullptr &&
        (detail::load_be32(mnl_attr_get_payload(flags)) & IPSET_FLAG_NOMATCH) != 0) {
        // An exception carved out of the set, not a member: reading it as one would be wrong,
        // and skipping it would hide it.
        fail(context, "member " + n.to_string() + " is a nomatch entry", EOPNOTSUPP);
    }
    return n.canonical();
}

// The members of an ADT nest, in order. Anything but IPSET_ATTR_DATA at that level is skipped
// (the kernel sends nothing else there).
void parse_members(const nlattr* adt, std::optional<Family> family, std::vector<Network>& out,
                   std::string_view context) {
    check_filled(adt, context, "member list");
    const auto* bytes = static_cast<const std::uint8_t*>(mnl_attr_get_payload(adt));
    const std::size_t len = mnl_attr_get_payload_len(adt);
    // check_filled has walked these bytes: every attribute fits, each starts 4-byte aligned
    // within the aligned message, so it may be read through a pointer.
    for (std::size_t offset = 0; offset < len;) {
        const auto* entry = reinterpret_cast<const nlattr*>(bytes + offset);
        offset += MNL_ALIGN(entry->nla_len);
        if (mnl_attr_get_type(entry) != IPSET_ATTR_DATA) {
            continue;
        }
        Network n = parse_member(entry, context);
        if (family && n.family != *family) {
            fail(context, "member " + n.to_string() + " is not of the set's family " +
                              std::string(family_name(*family)));
        }
        family = n.family;
        out.push_back(n);
    }
}

void parse_list(std::span<const std::uint8_t> message, std::optional<IpsetHeader>& header,
                std::vector<Network>& members, std::string_view context) {
    const detail::MessageView view(message);
    const nlmsghdr* nlh = view.get();
    if (nlh == nullptr) {
        fail(context, "not one whole netlink message");
    }
    if (nlh->nlmsg_type != ipset_type(IPSET_CMD_LIST)) {
        fail(context, "message type " + std::to_string(nlh->nlmsg_type) + ", not IPSET_CMD_LIST");
    }
    nfgenmsg nfg{};
    if (!view.extra_header(nfg)) {
        fail(context, "message without nfgenmsg");
    }
    const std::size_t offset = MNL_ALIGN(sizeof(nfgenmsg));
    const auto* payload = static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload(nlh));
    check_filled(payload + offset, mnl_nlmsg_get_payload_len(nlh) - offset, context, "message");
    detail::AttrTable command(kCommandPolicy);
    if (!command.parse(nlh, sizeof(nfgenmsg))) {
        fail(context, "attribute of wrong type or length");
    }
    if (command[IPSET_ATTR_TYPENAME] != nullptr) {
        header = parse_header(command, context);
    }
    if (const nlattr* adt = command[IPSET_ATTR_ADT]) {
        std::optional<Family> family;
        if (header) {
            family = header->family;
        } else if (!members.empty()) {
            family = members.front().family;
        }
        parse_members(adt, family, members, context);
    }
}

// The newest revision in an IPSET_CMD_TYPE answer, capped as kHashNetRevision says but never
// below the oldest one the kernel still has.
std::optional<std::uint8_t> parse_type_answer(std::span<const std::uint8_t> message) {
    const detail::MessageView view(message);
    const nlmsghdr* nlh = view.get();
    if (nlh == nullptr || nlh->nlmsg_type != ipset_type(IPSET_CMD_TYPE)) {
        return std::nullopt;
    }
    detail::AttrTable command(kCommandPolicy);
    if (!command.parse(nlh, sizeof(nfgenmsg)) || command[IPSET_ATTR_REVISION] == nullptr) {
        return std::nullopt;
    }
    const std::uint8_t newest = mnl_attr_get_u8(command[IPSET_ATTR_REVISION]);
    const std::uint8_t oldest = command[IPSET_ATTR_REVISION_MIN] != nullptr
                                    ? mnl_attr_get_u8(command[IPSET_ATTR_REVISION_MIN])
                                    : std::uint8_t{0};
    return std::max(oldest, std::min(newest, kHashNetRevision));
}

// ---- Requests ------------------------------------------------------------------------------

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

std::uint32_t maxelem_for(std::size_t count) {
    const std::size_t wanted = count > std::numeric_limits<std::uint32_t>::max() / 2
                                   ? std::numeric_limits<std::uint32_t>::max()
                                   : std::max(kMinMaxelem, 2 * count);
    return static_cast<std::uint32_t>(wanted);
}

std::uint32_t hashsize_for(std::size_t count) {
    std::size_t size = kMinHashsize;
    while (size < count && size < kMaxHashsize) {
        size *= 2;
    }
    return static_cast<std::uint32_t>(size);
}

// ---- getsockopt(SO_IP_SET) -----------------------------------------------------------------

// One getsockopt on the ipset socket; the answer must be exactly the request's size (libxt_set
// checks the same).
template <typename Request>
void ipset_sockopt(const Fd& fd, Request& request, const std::string& what) {
    socklen_t len = sizeof request;
    if (getsockopt(fd.get(), SOL_IP, SO_IP_SET, &request, &len) != 0) {
        throw NetlinkError(what, errno);
    }
    if (len != sizeof request) {
        throw NetlinkError(what + ": answer of " + std::to_string(len) + " bytes, not " +
                               std::to_string(sizeof request),
                           EPROTO);
    }
}

// A raw IPv4 socket (as libxt_set's get_version opens it) and the protocol version the kernel
// speaks, which every later request must carry (ip_set_sockfn_get refuses < 6 with EPROTO).
std::pair<Fd, unsigned> open_ipset_sockopt(const std::string& what) {
    Fd fd(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    if (!fd) {
        throw NetlinkError(what + ": open raw socket", errno);
    }
    ip_set_req_version version{};
    version.op = IP_SET_OP_VERSION;
    ipset_sockopt(fd, version, what + ": IP_SET_OP_VERSION");
    return {std::move(fd), version.version};
}

} // namespace

void parse_ipset_list_message(std::span<const std::uint8_t> message,
                              std::optional<IpsetHeader>& header, std::vector<Network>& members) {
    parse_list(message, header, members, "ipset list reply");
}

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

std::optional<std::uint16_t> ipset_index(const std::string& name) {
    const std::string what = "ipset index of " + name;
    // A longer name would be cut by the kernel to its first 31 bytes: another set's name.
    check_name(what, name);
    auto [fd, version] = open_ipset_sockopt(what);
    ip_set_req_get_set request{};
    request.op = IP_SET_OP_GET_BYNAME;
    request.version = version;
    std::memcpy(request.set.name, name.data(), name.size());
    ipset_sockopt(fd, request, what + ": IP_SET_OP_GET_BYNAME");
    if (request.set.index == IPSET_INVALID_ID) {
        return std::nullopt;
    }
    return request.set.index;
}

std::optional<std::string> ipset_name(std::uint16_t index) {
    const std::string what = "ipset name of index " + std::to_string(index);
    if (index == IPSET_INVALID_ID) {
        return std::nullopt;
    }
    auto [fd, version] = open_ipset_sockopt(what);
    ip_set_req_get_set request{};
    request.op = IP_SET_OP_GET_BYINDEX;
    request.version = version;
    request.set.index = index;
    try {
        ipset_sockopt(fd, request, what + ": IP_SET_OP_GET_BYINDEX");
    } catch (const NetlinkError& e) {
        // The kernel's answer for an index beyond its table of sets (ip_set_sockfn_get); the
        // request's size, the only other cause, is fixed by the header.
        if (e.error() == EINVAL) {
            return std::nullopt;
        }
        throw;
    }
    const std::size_t len = strnlen(request.set.name, sizeof request.set.name);
    if (len == 0) {
        return std::nullopt; // an empty slot
    }
    return std::string(request.set.name, len);
}

} // namespace memguard::netlink
