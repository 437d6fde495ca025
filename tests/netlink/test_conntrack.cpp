// parse_conntrack_message, matches, build_conntrack_delete: messages built byte by byte.
#include "support.hpp"

#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

using memguard::Family;
using memguard::Protocol;
using memguard::netlink::build_conntrack_delete;
using memguard::netlink::ConntrackTuple;
using memguard::netlink::parse_conntrack_message;
using test::attr;
using test::MessageBuilder;
using test::put16;
using test::put32;

namespace {

constexpr std::uint16_t kCtNew = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
constexpr std::uint16_t kCtDelete = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;

struct Entry {
    std::uint8_t family = AF_INET;
    std::vector<std::uint8_t> src{10, 0, 0, 5};
    std::vector<std::uint8_t> dst{10, 0, 0, 1};
    std::uint8_t proto = IPPROTO_TCP;
    std::optional<std::uint16_t> sport = 40000;
    std::optional<std::uint16_t> dport = 11211;
    std::optional<std::uint16_t> zone;
    std::optional<std::uint32_t> id;
    bool reply_tuple = true;      // a real dump also has CTA_TUPLE_REPLY, status, timeout, ...
    std::uint32_t status = 0x18e; // seen reply, assured, confirmed, src/dst NAT done
    std::uint16_t type = kCtNew;
};

void put_tuple(nlmsghdr* nlh, std::uint16_t type, const Entry& e, bool reply) {
    const bool v4 = e.src.size() == 4;
    nlattr* tuple = mnl_attr_nest_start(nlh, type);
    nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
    mnl_attr_put(nlh, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, e.src.size(),
                 reply ? e.dst.data() : e.src.data());
    mnl_attr_put(nlh, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, e.dst.size(),
                 reply ? e.src.data() : e.dst.data());
    mnl_attr_nest_end(nlh, ip);
    nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(nlh, CTA_PROTO_NUM, e.proto);
    if (e.sport) {
        mnl_attr_put_u16(nlh, reply ? CTA_PROTO_DST_PORT : CTA_PROTO_SRC_PORT,
                         test::be16(*e.sport));
    }
    if (e.dport) {
        mnl_attr_put_u16(nlh, reply ? CTA_PROTO_SRC_PORT : CTA_PROTO_DST_PORT,
                         test::be16(*e.dport));
    }
    mnl_attr_nest_end(nlh, proto);
    mnl_attr_nest_end(nlh, tuple);
}

std::vector<std::uint8_t> message(const Entry& e) {
    MessageBuilder b(e.type, NLM_F_MULTI);
    b.nfgen(e.family);
    put_tuple(b.nlh(), CTA_TUPLE_ORIG, e, false);
    if (e.reply_tuple) {
        put_tuple(b.nlh(), CTA_TUPLE_REPLY, e, true);
        mnl_attr_put_u32(b.nlh(), CTA_STATUS, test::be32(e.status));
        mnl_attr_put_u32(b.nlh(), CTA_TIMEOUT, test::be32(431999));
    }
    if (e.zone) {
        mnl_attr_put_u16(b.nlh(), CTA_ZONE, test::be16(*e.zone));
    }
    if (e.id) {
        mnl_attr_put_u32(b.nlh(), CTA_ID, test::be32(*e.id));
    }
    return b.bytes();
}

ConntrackTuple tcp_tuple() {
    ConntrackTuple t;
    t.family = Family::ipv4;
    t.source = test::net("10.0.0.5");
    t.destination = test::net("10.0.0.1");
    t.l4proto = IPPROTO_TCP;
    t.source_port = 40000;
    t.destination_port = 11211;
    return t;
}

} // namespace

TEST_CASE("conntrack: an IPv4 tcp entry as a dump sends it", "[conntrack]") {
    const auto t = parse_conntrack_message(message(Entry{}));
    REQUIRE(t.has_value());
    CHECK(*t == tcp_tuple());
    CHECK(t->protocol() == Protocol::tcp);
}

TEST_CASE("conntrack: a DNATed entry says so (IPS_DST_NAT in CTA_STATUS)", "[conntrack]") {
    Entry e;
    e.status = 0x18e | 0x20; // IPS_DST_NAT
    const auto t = parse_conntrack_message(message(e));
    REQUIRE(t.has_value());
    CHECK(t->dnat);
    CHECK(t->destination == test::net("10.0.0.1")); // the address the client asked at
    e.reply_tuple = false;                          // no status at all
    CHECK_FALSE(parse_conntrack_message(message(e))->dnat);
}

TEST_CASE("conntrack: IPv6 udp entry with zone and id", "[conntrack]") {
    Entry e;
    e.family = AF_INET6;
    e.src = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07};
    e.dst = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    e.proto = IPPROTO_UDP;
    e.zone = 7;
    e.id = 0xdeadbeef;
    const auto t = parse_conntrack_message(message(e));
    REQUIRE(t.has_value());
    CHECK(t->family == Family::ipv6);
    CHECK(t->source == test::net("2001:db8::7"));
    CHECK(t->destination == test::net("2001:db8::1"));
    CHECK(t->protocol() == Protocol::udp);
    CHECK(t->source_port == 40000);
    CHECK(t->destination_port == 11211);
    CHECK(t->zone == std::optional<std::uint16_t>(7));
    CHECK(t->id == std::optional<std::uint32_t>(0xdeadbeef));
}

TEST_CASE("conntrack: icmp entries parse without ports", "[conntrack]") {
    Entry e;
    e.proto = IPPROTO_ICMP;
    e.sport.reset();
    e.dport.reset();
    const auto t = parse_conntrack_message(message(e));
    REQUIRE(t.has_value());
    CHECK(!t->protocol());
    CHECK(t->destination_port == 0);
}

TEST_CASE("conntrack: malformed or unrelated messages give nullopt", "[conntrack]") {
    SECTION("tcp without ports") {
        Entry e;
        e.dport.reset();
        CHECK(!parse_conntrack_message(message(e)));
    }
    SECTION("family says IPv6, addresses are IPv4") {
        Entry e;
        e.family = AF_INET6;
        CHECK(!parse_conntrack_message(message(e)));
    }
    SECTION("unknown family") {
        Entry e;
        e.family = AF_UNSPEC;
        CHECK(!parse_conntrack_message(message(e)));
    }
    SECTION("another message type") {
        Entry e;
        e.type = (NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_EXP_NEW;
        CHECK(!parse_conntrack_message(message(e)));
    }
    SECTION("IPv4 address of 3 bytes") {
        Entry e;
        e.src = {10, 0, 0};
        e.dst = {10, 0, 0};
        CHECK(!parse_conntrack_message(message(e)));
    }
    SECTION("port attribute of 4 bytes") {
        MessageBuilder b(kCtNew);
        b.nfgen(AF_INET);
        nlattr* tuple = mnl_attr_nest_start(b.nlh(), CTA_TUPLE_ORIG);
        nlattr* ip = mnl_attr_nest_start(b.nlh(), CTA_TUPLE_IP);
        const std::uint8_t a[4] = {10, 0, 0, 5};
        mnl_attr_put(b.nlh(), CTA_IP_V4_SRC, 4, a);
        mnl_attr_put(b.nlh(), CTA_IP_V4_DST, 4, a);
        mnl_attr_nest_end(b.nlh(), ip);
        nlattr* proto = mnl_attr_nest_start(b.nlh(), CTA_TUPLE_PROTO);
        mnl_attr_put_u8(b.nlh(), CTA_PROTO_NUM, IPPROTO_TCP);
        mnl_attr_put_u32(b.nlh(), CTA_PROTO_SRC_PORT, 1);
        mnl_attr_put_u32(b.nlh(), CTA_PROTO_DST_PORT, 1);
        mnl_attr_nest_end(b.nlh(), proto);
        mnl_attr_nest_end(b.nlh(), tuple);
        CHECK(!parse_conntrack_message(b.bytes()));
    }
    SECTION("no original tuple") {
        MessageBuilder b(kCtNew);
        b.nfgen(AF_INET);
        mnl_attr_put_u32(b.nlh(), CTA_STATUS, 0);
        CHECK(!parse_conntrack_message(b.bytes()));
    }
    SECTION("header only, no nfgenmsg") {
        MessageBuilder b(kCtNew);
        CHECK(!parse_conntrack_message(b.bytes()));
    }
    SECTION("empty and tiny inputs") {
        CHECK(!parse_conntrack_message({}));
        const std::vector<std::uint8_t> three{1, 2, 3};
        CHECK(!parse_conntrack_message(three));
    }
}

TEST_CASE("conntrack: every truncation is rejected without reading past the bytes",
          "[conntrack][bounds]") {
    const auto full = message(Entry{});
    test::check_cut_short(full, parse_conntrack_message);
    test::check_shortened(full, parse_conntrack_message, tcp_tuple());
}

TEST_CASE("conntrack: misaligned input parses the same", "[conntrack][bounds]") {
    const auto shifted = test::shifted_by_one(message(Entry{}));
    const auto t = parse_conntrack_message(std::span(shifted).subspan(1));
    REQUIRE(t.has_value());
    CHECK(*t == tcp_tuple());
}

TEST_CASE("conntrack: random corruption never crashes", "[conntrack][bounds]") {
    Entry e;
    e.zone = 3;
    e.id = 99;
    test::corrupt_randomly(message(e), 12345, 20000, parse_conntrack_message);
    SUCCEED("no crash, no sanitizer report");
}

TEST_CASE("conntrack: the delete request names the original tuple, zone and id", "[conntrack]") {
    auto t = tcp_tuple();
    t.zone = 4;
    t.id = 0x01020304;
    const auto bytes = build_conntrack_delete(t);
    REQUIRE(bytes.size() >= sizeof(nlmsghdr) + sizeof(nfgenmsg));
    nlmsghdr h{};
    std::memcpy(&h, bytes.data(), sizeof h);
    CHECK(h.nlmsg_len == bytes.size());
    CHECK(h.nlmsg_type == kCtDelete);
    CHECK(h.nlmsg_flags == (NLM_F_REQUEST | NLM_F_ACK));
    nfgenmsg g{};
    std::memcpy(&g, bytes.data() + sizeof h, sizeof g);
    CHECK(g.nfgen_family == AF_INET);
    CHECK(g.version == NFNETLINK_V0);
    // The kernel reads it back the way we read dumps: the same parser recovers the tuple.
    const auto back = parse_conntrack_message(bytes);
    REQUIRE(back.has_value());
    CHECK(*back == t);

    auto v6 = tcp_tuple();
    v6.family = Family::ipv6;
    v6.source = test::net("2001:db8::7");
    v6.destination = test::net("2001:db8::1");
    v6.l4proto = IPPROTO_UDP;
    const auto back6 = parse_conntrack_message(build_conntrack_delete(v6));
    REQUIRE(back6.has_value());
    CHECK(*back6 == v6);
}

TEST_CASE("conntrack: no delete request for a tuple without ports", "[conntrack]") {
    auto t = tcp_tuple();
    t.l4proto = IPPROTO_ICMP;
    CHECK_THROWS_AS(build_conntrack_delete(t), std::invalid_argument);
}

namespace {

// What `conntrack -L -f <family> -p <proto> --dport <port>` sends (kernel >= 5.8), by hand.
std::vector<std::uint8_t> expected_filtered_dump(std::uint8_t family, std::uint8_t proto,
                                                 std::uint8_t port_hi, std::uint8_t port_lo) {
    std::vector<std::uint8_t> out;
    put32(out, 56); // nlmsg_len
    put16(out, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET);
    put16(out, NLM_F_REQUEST | NLM_F_DUMP);
    put32(out, 0);                                       // seq: stamped by transact
    put32(out, 0);                                       // port id: the kernel's to fill
    out.insert(out.end(), {family, NFNETLINK_V0, 0, 0}); // nfgenmsg, res_id 0
    attr(out, 24, CTA_TUPLE_ORIG | NLA_F_NESTED);
    attr(out, 20, CTA_TUPLE_PROTO | NLA_F_NESTED);
    attr(out, 5, CTA_PROTO_NUM);
    out.insert(out.end(), {proto, 0, 0, 0}); // u8 and padding
    attr(out, 6, CTA_PROTO_DST_PORT);
    out.insert(out.end(), {port_hi, port_lo, 0, 0}); // be16 and padding
    attr(out, 12, CTA_FILTER | NLA_F_NESTED);
    attr(out, 8, CTA_FILTER_ORIG_FLAGS);
    put32(out, (1u << 3) | (1u << 5)); // CTA_FILTER_F_CTA_PROTO_NUM | _PROTO_DST_PORT
    return out;
}

} // namespace

TEST_CASE("conntrack: the filtered dump names protocol and destination port, byte for byte",
          "[conntrack][sweep]") {
    using memguard::netlink::build_conntrack_filtered_dump;
    CHECK(build_conntrack_filtered_dump(Family::ipv4, Protocol::tcp, 11211) ==
          expected_filtered_dump(AF_INET, IPPROTO_TCP, 0x2b, 0xcb));
    CHECK(build_conntrack_filtered_dump(Family::ipv6, Protocol::udp, 11211) ==
          expected_filtered_dump(AF_INET6, IPPROTO_UDP, 0x2b, 0xcb));
    CHECK(build_conntrack_filtered_dump(Family::ipv4, Protocol::udp, 0x1234) ==
          expected_filtered_dump(AF_INET, IPPROTO_UDP, 0x12, 0x34));
}

TEST_CASE("conntrack: a sweep with nothing to sweep opens no socket", "[conntrack][sweep]") {
    using memguard::netlink::sweep;
    const memguard::NetworkIndex none;
    // Returns before touching the kernel, so this runs unprivileged.
    for (const auto& result : {sweep({}, {Protocol::tcp}, {11211}, none, none, none),
                               sweep({Family::ipv4}, {}, {11211}, none, none, none),
                               sweep({Family::ipv4}, {Protocol::tcp}, {}, none, none, none)}) {
        CHECK(result.deleted == 0);
        CHECK(result.distinct_sources == 0);
        CHECK(result.sources.empty());
        CHECK(result.filtered);
    }
}

TEST_CASE("conntrack: a scope holds tcp and udp entries of its families, protocols and ports",
          "[conntrack]") {
    const memguard::netlink::ConntrackScope scope{{Family::ipv4}, {Protocol::udp}, {11211, 11213}};
    auto t = tcp_tuple();
    t.l4proto = IPPROTO_UDP;
    CHECK(scope.contains(t));
    t.destination_port = 11213;
    CHECK(scope.contains(t));
    t.destination_port = 11212;
    CHECK(!scope.contains(t));
    t.destination_port = 11211;
    t.l4proto = IPPROTO_TCP;
    CHECK(!scope.contains(t));
    t.l4proto = IPPROTO_ICMP;
    CHECK(!scope.contains(t));
    t.l4proto = IPPROTO_UDP;
    t.family = Family::ipv6;
    CHECK(!scope.contains(t));
}
