// Parsing ipset's netlink answers: IPSET_CMD_LIST (headers and members) and IPSET_CMD_TYPE.
// Every attribute is validated for type and length, and every nest must be filled exactly.
#include "ipset_wire.hpp"

// glibc's netinet/in.h must come before the kernel's headers (linux/netfilter.h pulls in
// linux/in.h), which otherwise define in_addr a second time.
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter/ipset/ip_set_hash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace memguard::netlink {

namespace ipset_wire {

namespace {

// The newest hash:net revision ipset 7.x userspace also knows (net/netfilter/ipset/
// ip_set_hash_net.c: 7 = bucketsize and initval). A kernel offering newer ones still gets 7, so
// `ipset list` keeps understanding our sets; an older kernel's newest is taken as it is.
constexpr std::uint8_t kHashNetRevision = 7;

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

} // namespace

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

} // namespace ipset_wire

void parse_ipset_list_message(std::span<const std::uint8_t> message,
                              std::optional<IpsetHeader>& header, std::vector<Network>& members) {
    ipset_wire::parse_list(message, header, members, "ipset list reply");
}

} // namespace memguard::netlink
