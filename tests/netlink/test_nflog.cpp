// parse_nflog_message: NFULNL_MSG_PACKET messages built byte by byte.
#include "support.hpp"

#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <random>

using memguard::Family;
using memguard::Protocol;
using memguard::netlink::BlockedPacket;
using memguard::netlink::IfNameResolver;
using memguard::netlink::parse_nflog_message;
using test::MessageBuilder;

namespace {

constexpr std::uint16_t kPacket = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;

// A fake resolver: no real interfaces involved.
const IfNameResolver kNames = [](std::uint32_t ifindex) -> std::string {
    return ifindex == 1 ? "lo" : ifindex == 7 ? "eth0" : "";
};

// IPv4 header (RFC 791) with `options` extra words, then the first 4 bytes of a tcp/udp header.
std::vector<std::uint8_t> ipv4(std::uint8_t proto, std::array<std::uint8_t, 4> src,
                               std::uint16_t dport, int option_words = 0, std::uint16_t frag = 0) {
    const auto ihl = static_cast<std::uint8_t>(5 + option_words);
    std::vector<std::uint8_t> p(ihl * 4u, 0);
    p[0] = static_cast<std::uint8_t>(0x40 | ihl);
    p[6] = static_cast<std::uint8_t>(frag >> 8);
    p[7] = static_cast<std::uint8_t>(frag);
    p[8] = 64;
    p[9] = proto;
    std::copy(src.begin(), src.end(), p.begin() + 12);
    p[16] = 10;
    p[19] = 1; // dst 10.0.0.1
    const std::uint8_t l4[8] = {
        0x9c, 0x40, static_cast<std::uint8_t>(dport >> 8), static_cast<std::uint8_t>(dport), 0, 0,
        0,    0};
    p.insert(p.end(), l4, l4 + 8);
    return p;
}

std::vector<std::uint8_t> ipv6(std::uint8_t next, std::array<std::uint8_t, 16> src,
                               std::uint16_t dport) {
    std::vector<std::uint8_t> p(40, 0);
    p[0] = 0x60;
    p[6] = next;
    p[7] = 64;
    std::copy(src.begin(), src.end(), p.begin() + 8);
    p[39] = 1;
    const std::uint8_t l4[8] = {
        0x9c, 0x40, static_cast<std::uint8_t>(dport >> 8), static_cast<std::uint8_t>(dport), 0, 0,
        0,    0};
    p.insert(p.end(), l4, l4 + 8);
    return p;
}

struct Log {
    std::uint8_t family = AF_INET;
    std::vector<std::uint8_t> payload;
    std::optional<std::uint32_t> indev = 7;
    std::optional<std::string> prefix = "memguard";
    std::optional<std::uint32_t> seq;
};

Log log(std::vector<std::uint8_t> payload) {
    Log l;
    l.payload = std::move(payload);
    return l;
}

std::vector<std::uint8_t> message(const Log& l) {
    MessageBuilder b(kPacket);
    b.nfgen(l.family, 77);
    const nfulnl_msg_packet_hdr hdr{test::be16(l.family == AF_INET ? 0x0800 : 0x86dd), 1, 0};
    mnl_attr_put(b.nlh(), NFULA_PACKET_HDR, sizeof hdr, &hdr);
    if (l.indev) {
        mnl_attr_put_u32(b.nlh(), NFULA_IFINDEX_INDEV, test::be32(*l.indev));
    }
    if (l.prefix) {
        mnl_attr_put_strz(b.nlh(), NFULA_PREFIX, l.prefix->c_str());
    }
    if (l.seq) {
        mnl_attr_put_u32(b.nlh(), NFULA_SEQ, test::be32(*l.seq));
    }
    mnl_attr_put(b.nlh(), NFULA_PAYLOAD, l.payload.size(), l.payload.data());
    return b.bytes();
}

} // namespace

TEST_CASE("nflog: IPv4 tcp packet", "[nflog]") {
    const auto p =
        parse_nflog_message(message(log(ipv4(IPPROTO_TCP, {10, 0, 0, 5}, 11211))), kNames);
    REQUIRE(p.has_value());
    CHECK(*p == BlockedPacket{Family::ipv4, test::net("10.0.0.5"), Protocol::tcp, 11211, "eth0",
                              "memguard"});
}

TEST_CASE("nflog: IPv4 header with options: the port is found after IHL", "[nflog]") {
    const auto p =
        parse_nflog_message(message(log(ipv4(IPPROTO_UDP, {192, 168, 1, 9}, 11211, 3))), kNames);
    REQUIRE(p.has_value());
    CHECK(p->source == test::net("192.168.1.9"));
    CHECK(p->protocol == Protocol::udp);
    CHECK(p->dport == 11211);
}

TEST_CASE("nflog: IPv6 udp packet", "[nflog]") {
    Log l;
    l.family = AF_INET6;
    l.payload =
        ipv6(IPPROTO_UDP, {0xfd, 0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9}, 11211);
    l.indev = 1;
    const auto p = parse_nflog_message(message(l), kNames);
    REQUIRE(p.has_value());
    CHECK(*p == BlockedPacket{Family::ipv6, test::net("fd12:3456::9"), Protocol::udp, 11211, "lo",
                              "memguard"});
}

TEST_CASE("nflog: what the packet does not say stays unknown", "[nflog]") {
    SECTION("IPv6 extension header first: protocol unknown") {
        Log l;
        l.family = AF_INET6;
        l.payload =
            ipv6(0 /* hop-by-hop */, {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 11211);
        const auto p = parse_nflog_message(message(l), kNames);
        REQUIRE(p.has_value());
        CHECK(!p->protocol);
        CHECK(p->dport == 0);
    }
    SECTION("later IPv4 fragment: protocol known, port not") {
        const auto p = parse_nflog_message(
            message(log(ipv4(IPPROTO_UDP, {10, 0, 0, 5}, 11211, 0, 185))), kNames);
        REQUIRE(p.has_value());
        CHECK(p->protocol == Protocol::udp);
        CHECK(p->dport == 0);
    }
    SECTION("copy range cut the transport header") {
        auto payload = ipv4(IPPROTO_TCP, {10, 0, 0, 5}, 11211);
        payload.resize(22);
        const auto p = parse_nflog_message(message(log(payload)), kNames);
        REQUIRE(p.has_value());
        CHECK(p->protocol == Protocol::tcp);
        CHECK(p->dport == 0);
    }
    SECTION("no input interface (OUTPUT hook), no prefix") {
        Log bare = log(ipv4(IPPROTO_TCP, {10, 0, 0, 5}, 11211));
        bare.indev.reset();
        bare.prefix.reset();
        const auto p = parse_nflog_message(message(bare), kNames);
        REQUIRE(p.has_value());
        CHECK(p->in_iface.empty());
        CHECK(p->prefix.empty());
    }
    SECTION("no resolver") {
        const auto p = parse_nflog_message(message(log(ipv4(IPPROTO_TCP, {10, 0, 0, 5}, 11211))),
                                           IfNameResolver{});
        REQUIRE(p.has_value());
        CHECK(p->in_iface.empty());
    }
}

TEST_CASE("nflog: malformed or unrelated messages give nullopt", "[nflog]") {
    SECTION("no payload (copy mode meta)") {
        MessageBuilder b(kPacket);
        b.nfgen(AF_INET, 77);
        mnl_attr_put_u32(b.nlh(), NFULA_IFINDEX_INDEV, test::be32(7));
        CHECK(!parse_nflog_message(b.bytes(), kNames));
    }
    SECTION("IPv4 family, IPv6 packet") {
        Log l;
        l.payload = ipv6(IPPROTO_UDP, {}, 11211);
        CHECK(!parse_nflog_message(message(l), kNames));
    }
    SECTION("IHL below 5") {
        auto payload = ipv4(IPPROTO_TCP, {10, 0, 0, 5}, 11211);
        payload[0] = 0x44;
        CHECK(!parse_nflog_message(message(log(payload)), kNames));
    }
    SECTION("IHL beyond the copied bytes") {
        auto payload = ipv4(IPPROTO_TCP, {10, 0, 0, 5}, 11211);
        payload.resize(20);
        payload[0] = 0x4f; // 60-byte header
        CHECK(!parse_nflog_message(message(log(payload)), kNames));
    }
    SECTION("IP header cut short") {
        auto payload = ipv4(IPPROTO_TCP, {10, 0, 0, 5}, 11211);
        payload.resize(19);
        CHECK(!parse_nflog_message(message(log(payload)), kNames));
    }
    SECTION("prefix without its NUL") {
        MessageBuilder b(kPacket);
        b.nfgen(AF_INET, 77);
        mnl_attr_put(b.nlh(), NFULA_PREFIX, 3, "abc");
        const auto payload = ipv4(IPPROTO_TCP, {10, 0, 0, 5}, 11211);
        mnl_attr_put(b.nlh(), NFULA_PAYLOAD, payload.size(), payload.data());
        CHECK(!parse_nflog_message(b.bytes(), kNames));
    }
    SECTION("ifindex of 2 bytes") {
        MessageBuilder b(kPacket);
        b.nfgen(AF_INET, 77);
        mnl_attr_put_u16(b.nlh(), NFULA_IFINDEX_INDEV, 1);
        const auto payload = ipv4(IPPROTO_TCP, {10, 0, 0, 5}, 11211);
        mnl_attr_put(b.nlh(), NFULA_PAYLOAD, payload.size(), payload.data());
        CHECK(!parse_nflog_message(b.bytes(), kNames));
    }
    SECTION("config message, bridge family") {
        MessageBuilder cfg((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG);
        cfg.nfgen(AF_INET, 77);
        CHECK(!parse_nflog_message(cfg.bytes(), kNames));
        Log bridge = log(ipv4(IPPROTO_TCP, {10, 0, 0, 5}, 11211));
        bridge.family = AF_BRIDGE;
        CHECK(!parse_nflog_message(message(bridge), kNames));
    }
}

TEST_CASE("nflog: truncations and corruption never read past the bytes", "[nflog][bounds]") {
    Log l = log(ipv4(IPPROTO_TCP, {10, 0, 0, 5}, 11211, 2));
    l.seq = 5;
    const auto full = message(l);
    for (std::size_t n = 0; n < full.size(); ++n) {
        std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        cut.shrink_to_fit();
        CHECK(!parse_nflog_message(cut, kNames));
    }
    std::mt19937 rng(777);
    for (int round = 0; round < 20000; ++round) {
        auto bytes = full;
        for (int i = 0; i < 3; ++i) {
            bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
        }
        bytes.resize(rng() % (bytes.size() + 1));
        bytes.shrink_to_fit();
        (void)parse_nflog_message(bytes, kNames);
    }
    SUCCEED("no crash, no sanitizer report");
}
