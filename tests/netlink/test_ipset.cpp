// parse_ipset_list_message: IPSET_CMD_LIST answers built byte by byte, laid out as Linux 6.x
// sends them (ip_set_dump_do, mtype_head, hash_net{4,6}_data_list; checked against a dump).
#include "support.hpp"

#include "netlink/ipset.hpp"
#include "netlink/socket.hpp"

#include <linux/netfilter/ipset/ip_set.h>

#include <algorithm>
#include <cerrno>

using memguard::Family;
using memguard::Network;
using memguard::netlink::IpsetHeader;
using memguard::netlink::NetlinkError;
using memguard::netlink::parse_ipset_list_message;
using test::MessageBuilder;

namespace {

constexpr std::uint16_t kList = (NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_LIST;
constexpr std::uint8_t kInet = 2;   // NFPROTO_IPV4
constexpr std::uint8_t kInet6 = 10; // NFPROTO_IPV6

std::uint16_t net_order(std::uint16_t type) {
    return static_cast<std::uint16_t>(type | NLA_F_NET_BYTEORDER);
}

// Every message of a set: PROTOCOL and SETNAME.
MessageBuilder list_message(const char* set = "memguard4") {
    MessageBuilder b(kList, NLM_F_MULTI);
    b.nfgen(kInet); // the kernel always says NFPROTO_IPV4 here (start_msg)
    mnl_attr_put_u8(b.nlh(), IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL);
    mnl_attr_put_strz(b.nlh(), IPSET_ATTR_SETNAME, set);
    return b;
}

// The first message of a set adds its header.
void put_header(nlmsghdr* nlh, std::uint8_t family, std::uint32_t references,
                std::uint32_t elements) {
    mnl_attr_put_strz(nlh, IPSET_ATTR_TYPENAME, "hash:net");
    mnl_attr_put_u8(nlh, IPSET_ATTR_FAMILY, family);
    mnl_attr_put_u8(nlh, IPSET_ATTR_REVISION, 7);
    mnl_attr_put_u16(nlh, net_order(IPSET_ATTR_INDEX), test::be16(3));
    nlattr* data = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
    mnl_attr_put_u32(nlh, net_order(IPSET_ATTR_HASHSIZE), test::be32(1024));
    mnl_attr_put_u32(nlh, net_order(IPSET_ATTR_MAXELEM), test::be32(65536));
    mnl_attr_put_u8(nlh, IPSET_ATTR_BUCKETSIZE, 12);
    mnl_attr_put_u32(nlh, net_order(IPSET_ATTR_INITVAL), test::be32(0x0e553f28));
    mnl_attr_put_u32(nlh, net_order(IPSET_ATTR_REFERENCES), test::be32(references));
    mnl_attr_put_u32(nlh, net_order(IPSET_ATTR_MEMSIZE), test::be32(552));
    mnl_attr_put_u32(nlh, net_order(IPSET_ATTR_ELEMENTS), test::be32(elements));
    mnl_attr_nest_end(nlh, data);
}

struct Member {
    const char* network;
    bool with_cidr = true; // the kernel always sends it for hash:net; ipset add may leave it out
    std::uint32_t cadt_flags = 0;
};

// IPSET_ATTR_DATA { IPSET_ATTR_IP { IPADDR_IPV4|6 }, CIDR, [CADT_FLAGS] }
void put_member(nlmsghdr* nlh, const Member& m) {
    const Network n = test::net(m.network);
    nlattr* data = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
    nlattr* ip = mnl_attr_nest_start(nlh, IPSET_ATTR_IP);
    mnl_attr_put(nlh, n.family == Family::ipv4 ? IPSET_ATTR_IPADDR_IPV4 : IPSET_ATTR_IPADDR_IPV6,
                 n.size(), n.addr.data());
    mnl_attr_nest_end(nlh, ip);
    if (m.with_cidr) {
        mnl_attr_put_u8(nlh, IPSET_ATTR_CIDR, static_cast<std::uint8_t>(n.prefix));
    }
    if (m.cadt_flags != 0) {
        mnl_attr_put_u32(nlh, net_order(IPSET_ATTR_CADT_FLAGS), test::be32(m.cadt_flags));
    }
    mnl_attr_nest_end(nlh, data);
}

void put_members(nlmsghdr* nlh, const std::vector<Member>& members) {
    nlattr* adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
    for (const auto& m : members) {
        put_member(nlh, m);
    }
    mnl_attr_nest_end(nlh, adt);
}

struct Parsed {
    std::optional<IpsetHeader> header;
    std::vector<Network> members;
};

Parsed parse(const std::vector<std::uint8_t>& bytes) {
    Parsed p;
    parse_ipset_list_message(bytes, p.header, p.members);
    return p;
}

// The errno parse_ipset_list_message throws with, or 0.
int parse_error(const std::vector<std::uint8_t>& bytes) {
    try {
        (void)parse(bytes);
    } catch (const NetlinkError& e) {
        CHECK(std::string(e.what()).find("ipset list reply: ") == 0);
        return e.error();
    }
    return 0;
}

std::vector<Network> nets(std::initializer_list<const char*> texts) {
    std::vector<Network> out;
    for (const char* t : texts) {
        out.push_back(test::net(t));
    }
    return out;
}

// Offset of the first occurrence of `needle` in `bytes`.
std::size_t find(const std::vector<std::uint8_t>& bytes, const std::vector<std::uint8_t>& needle) {
    const auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
    REQUIRE(it != bytes.end());
    return static_cast<std::size_t>(it - bytes.begin());
}

} // namespace

TEST_CASE("ipset: header-only answer (ipset list -t)", "[ipset]") {
    auto b = list_message();
    put_header(b.nlh(), kInet, 1, 10004);
    const auto p = parse(b.bytes());
    REQUIRE(p.header.has_value());
    CHECK(*p.header == IpsetHeader{"hash:net", Family::ipv4, 1, 10004, 0x0e553f28});
    CHECK(p.members.empty());

    auto b6 = list_message("memguard6");
    put_header(b6.nlh(), kInet6, 0, 0);
    const auto p6 = parse(b6.bytes());
    REQUIRE(p6.header.has_value());
    CHECK(*p6.header == IpsetHeader{"hash:net", Family::ipv6, 0, 0, 0x0e553f28});
}

TEST_CASE("ipset: IPv4 members, a /32 with and without CIDR, a /8", "[ipset]") {
    auto b = list_message();
    put_header(b.nlh(), kInet, 0, 4);
    put_members(b.nlh(), {{"10.0.0.1"}, {"10.0.0.0/8"}, {"192.168.7.9", false}, {"172.16.0.0/12"}});
    const auto p = parse(b.bytes());
    REQUIRE(p.header.has_value());
    CHECK(p.header->elements == 4);
    // In message order, full-length prefixes for the /32s.
    CHECK(p.members == nets({"10.0.0.1/32", "10.0.0.0/8", "192.168.7.9", "172.16.0.0/12"}));
    CHECK(p.members[0].prefix == 32);
    CHECK(p.members[2].prefix == 32);

    // A continuation message (the set's header came in the first one) appends.
    auto more = list_message();
    put_members(more.nlh(), {{"10.9.9.9"}});
    auto header = p.header;
    auto members = p.members;
    parse_ipset_list_message(more.bytes(), header, members);
    CHECK(members.size() == 5);
    CHECK(members.back() == test::net("10.9.9.9"));
    CHECK(header == p.header);

    // Host bits (which the kernel never sends: it stores canonical networks) are cleared.
    auto odd = list_message();
    put_members(odd.nlh(), {{"10.1.2.3/16"}});
    CHECK(parse(odd.bytes()).members == nets({"10.1.0.0/16"}));
}

TEST_CASE("ipset: IPv6 members", "[ipset]") {
    auto b = list_message("memguard6");
    put_header(b.nlh(), kInet6, 2, 3);
    put_members(b.nlh(), {{"2001:db8::1"}, {"2001:db8:ffff::/48"}, {"fd00::/8"}});
    const auto p = parse(b.bytes());
    REQUIRE(p.header.has_value());
    CHECK(*p.header == IpsetHeader{"hash:net", Family::ipv6, 2, 3, 0x0e553f28});
    CHECK(p.members == nets({"2001:db8::1", "2001:db8:ffff::/48", "fd00::/8"}));
}

TEST_CASE("ipset: an empty set and a message with an empty member list", "[ipset]") {
    auto b = list_message();
    put_header(b.nlh(), kInet, 0, 0);
    put_members(b.nlh(), {});
    const auto p = parse(b.bytes());
    CHECK(p.header.has_value());
    CHECK(p.members.empty());
}

TEST_CASE("ipset: bytes need no alignment", "[ipset]") {
    auto b = list_message();
    put_members(b.nlh(), {{"10.0.0.0/8"}});
    const auto bytes = b.bytes();
    std::vector<std::uint8_t> shifted(bytes.size() + 1);
    std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
    std::optional<IpsetHeader> header;
    std::vector<Network> members;
    parse_ipset_list_message(std::span(shifted).subspan(1), header, members);
    CHECK(members == nets({"10.0.0.0/8"}));
}

TEST_CASE("ipset: malformed attribute lengths are refused", "[ipset]") {
    SECTION("an IPv4 address of 5 bytes") {
        auto b = list_message();
        nlattr* adt = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_ADT);
        nlattr* data = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_DATA);
        nlattr* ip = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_IP);
        const std::uint8_t five[5] = {10, 0, 0, 1, 0};
        mnl_attr_put(b.nlh(), IPSET_ATTR_IPADDR_IPV4, sizeof five, five);
        mnl_attr_nest_end(b.nlh(), ip);
        mnl_attr_nest_end(b.nlh(), data);
        mnl_attr_nest_end(b.nlh(), adt);
        CHECK(parse_error(b.bytes()) == EBADMSG);
    }
    SECTION("a CIDR of 4 bytes") {
        auto b = list_message();
        nlattr* adt = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_ADT);
        nlattr* data = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_DATA);
        nlattr* ip = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_IP);
        const std::uint8_t addr[4] = {10, 0, 0, 0};
        mnl_attr_put(b.nlh(), IPSET_ATTR_IPADDR_IPV4, sizeof addr, addr);
        mnl_attr_nest_end(b.nlh(), ip);
        mnl_attr_put_u32(b.nlh(), IPSET_ATTR_CIDR, 8);
        mnl_attr_nest_end(b.nlh(), data);
        mnl_attr_nest_end(b.nlh(), adt);
        CHECK(parse_error(b.bytes()) == EBADMSG);
    }
    SECTION("references of 2 bytes") {
        auto b = list_message();
        mnl_attr_put_strz(b.nlh(), IPSET_ATTR_TYPENAME, "hash:net");
        mnl_attr_put_u8(b.nlh(), IPSET_ATTR_FAMILY, kInet);
        nlattr* data = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_DATA);
        mnl_attr_put_u16(b.nlh(), net_order(IPSET_ATTR_REFERENCES), 1);
        mnl_attr_nest_end(b.nlh(), data);
        CHECK(parse_error(b.bytes()) == EBADMSG);
    }
    SECTION("a type name without its NUL") {
        auto b = list_message();
        mnl_attr_put(b.nlh(), IPSET_ATTR_TYPENAME, 8, "hash:net");
        mnl_attr_put_u8(b.nlh(), IPSET_ATTR_FAMILY, kInet);
        CHECK(parse_error(b.bytes()) == EBADMSG);
    }
    SECTION("a member that is not a nest (2 bytes of payload)") {
        auto b = list_message();
        nlattr* adt = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_ADT);
        mnl_attr_put_u16(b.nlh(), IPSET_ATTR_DATA, 0);
        mnl_attr_nest_end(b.nlh(), adt);
        CHECK(parse_error(b.bytes()) == EBADMSG);
    }
    SECTION("a CIDR cut off by its member's length: not read as a /32") {
        auto b = list_message();
        put_members(b.nlh(), {{"10.0.0.0/8"}});
        auto bytes = b.bytes();
        // The member nest (IPSET_ATTR_DATA | NLA_F_NESTED, length 24) → 20: its CIDR attribute
        // now reaches past the nest's end.
        const std::size_t at = find(bytes, {24, 0, IPSET_ATTR_DATA, 0x80});
        bytes[at] = 20;
        CHECK(parse_error(bytes) == EBADMSG);
    }
    SECTION("a member list cut in the middle of a member") {
        auto b = list_message();
        put_members(b.nlh(), {{"10.0.0.1"}, {"10.0.0.2"}});
        auto bytes = b.bytes();
        const std::size_t at = find(bytes, {52, 0, IPSET_ATTR_ADT, 0x80}); // 4 + 2 * 24
        bytes[at] = 40;
        CHECK(parse_error(bytes) == EBADMSG);
    }
    SECTION("an attribute longer than the message") {
        auto b = list_message();
        put_members(b.nlh(), {{"10.0.0.1"}});
        auto bytes = b.bytes();
        const std::size_t at = find(bytes, {28, 0, IPSET_ATTR_ADT, 0x80});
        bytes[at] = 64;
        CHECK(parse_error(bytes) == EBADMSG);
    }
    SECTION("nlmsg_len beyond the bytes, or not a multiple of 4") {
        auto b = list_message();
        put_members(b.nlh(), {{"10.0.0.1"}});
        const auto bytes = b.bytes();
        const auto len = static_cast<std::uint32_t>(bytes.size());
        CHECK(parse_error(test::with_length(bytes, len + 4)) == EBADMSG);
        CHECK(parse_error(test::with_length(bytes, len - 2)) == EBADMSG);
        CHECK(parse_error({}) == EBADMSG);
    }
}

TEST_CASE("ipset: members that are not plain networks are refused", "[ipset]") {
    SECTION("no address") {
        auto b = list_message();
        nlattr* adt = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_ADT);
        nlattr* data = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_DATA);
        mnl_attr_put_u8(b.nlh(), IPSET_ATTR_CIDR, 8);
        mnl_attr_nest_end(b.nlh(), data);
        mnl_attr_nest_end(b.nlh(), adt);
        CHECK(parse_error(b.bytes()) == EBADMSG);
    }
    SECTION("a CIDR longer than the address") {
        auto b = list_message();
        nlattr* adt = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_ADT);
        nlattr* data = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_DATA);
        nlattr* ip = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_IP);
        const std::uint8_t addr[4] = {10, 0, 0, 1};
        mnl_attr_put(b.nlh(), IPSET_ATTR_IPADDR_IPV4, sizeof addr, addr);
        mnl_attr_nest_end(b.nlh(), ip);
        mnl_attr_put_u8(b.nlh(), IPSET_ATTR_CIDR, 33);
        mnl_attr_nest_end(b.nlh(), data);
        mnl_attr_nest_end(b.nlh(), adt);
        CHECK(parse_error(b.bytes()) == EBADMSG);
    }
    SECTION("a nomatch entry") {
        auto b = list_message();
        put_members(b.nlh(), {{"10.0.0.0/8", true, IPSET_FLAG_NOMATCH}});
        CHECK(parse_error(b.bytes()) == EOPNOTSUPP);
    }
    SECTION("a range") {
        auto b = list_message();
        nlattr* adt = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_ADT);
        nlattr* data = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_DATA);
        for (const auto type : {IPSET_ATTR_IP, IPSET_ATTR_IP_TO}) {
            nlattr* ip = mnl_attr_nest_start(b.nlh(), static_cast<std::uint16_t>(type));
            const std::uint8_t addr[4] = {10, 0, 0, static_cast<std::uint8_t>(type)};
            mnl_attr_put(b.nlh(), IPSET_ATTR_IPADDR_IPV4, sizeof addr, addr);
            mnl_attr_nest_end(b.nlh(), ip);
        }
        mnl_attr_nest_end(b.nlh(), data);
        mnl_attr_nest_end(b.nlh(), adt);
        CHECK(parse_error(b.bytes()) == EOPNOTSUPP);
    }
    SECTION("a member of the other family than the header's") {
        auto b = list_message();
        put_header(b.nlh(), kInet, 0, 1);
        put_members(b.nlh(), {{"2001:db8::1"}});
        CHECK(parse_error(b.bytes()) == EBADMSG);
    }
    SECTION("members of both families in one list") {
        auto b = list_message();
        put_members(b.nlh(), {{"10.0.0.1"}, {"2001:db8::1"}});
        CHECK(parse_error(b.bytes()) == EBADMSG);
    }
    SECTION("a set family neither inet nor inet6 (list:set is NFPROTO_UNSPEC)") {
        auto b = list_message();
        mnl_attr_put_strz(b.nlh(), IPSET_ATTR_TYPENAME, "list:set");
        mnl_attr_put_u8(b.nlh(), IPSET_ATTR_FAMILY, 0);
        CHECK(parse_error(b.bytes()) == EAFNOSUPPORT);
    }
    SECTION("another message type") {
        MessageBuilder b((NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_HEADER);
        b.nfgen(kInet);
        CHECK(parse_error(b.bytes()) == EBADMSG);
    }
}

TEST_CASE("ipset: attributes newer than our headers are skipped", "[ipset]") {
    auto b = list_message();
    mnl_attr_put_u32(b.nlh(), IPSET_ATTR_CMD_MAX + 5, 0);
    nlattr* adt = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_ADT);
    put_member(b.nlh(), {"10.0.0.1"});
    mnl_attr_put_u32(b.nlh(), IPSET_ATTR_LINENO, 0); // not a member: skipped
    mnl_attr_nest_end(b.nlh(), adt);
    CHECK(parse(b.bytes()).members == nets({"10.0.0.1"}));
}
