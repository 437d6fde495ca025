// parse_inet_diag_message: SOCK_DIAG_BY_FAMILY replies built byte by byte.
#include "support.hpp"

#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <random>

using memguard::Family;
using memguard::Protocol;
using memguard::netlink::ListeningSocket;
using memguard::netlink::parse_inet_diag_message;
using test::MessageBuilder;

namespace {

struct Diag {
    std::uint8_t family = AF_INET;
    std::uint8_t state = TCP_LISTEN;
    std::vector<std::uint8_t> local{127, 0, 0, 1};
    std::uint16_t port = 11211;
    std::vector<std::uint8_t> remote{0, 0, 0, 0};
    std::uint16_t remote_port = 0;
    std::optional<std::uint8_t> v6only;
    std::optional<std::uint8_t> protocol;
    std::uint32_t inode = 4242;
};

std::vector<std::uint8_t> message(const Diag& d) {
    MessageBuilder b(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI);
    inet_diag_msg m{};
    m.idiag_family = d.family;
    m.idiag_state = d.state;
    m.id.idiag_sport = test::be16(d.port);
    m.id.idiag_dport = test::be16(d.remote_port);
    std::memcpy(m.id.idiag_src, d.local.data(), d.local.size());
    std::memcpy(m.id.idiag_dst, d.remote.data(), d.remote.size());
    m.idiag_inode = d.inode;
    b.extra(m);
    mnl_attr_put_u8(b.nlh(), INET_DIAG_SHUTDOWN, 0);
    if (d.v6only) {
        mnl_attr_put_u8(b.nlh(), INET_DIAG_SKV6ONLY, *d.v6only);
    }
    if (d.protocol) {
        mnl_attr_put_u8(b.nlh(), INET_DIAG_PROTOCOL, *d.protocol);
    }
    return b.bytes();
}

std::vector<std::uint8_t> v6(std::uint8_t last) {
    std::vector<std::uint8_t> a(16, 0);
    a[15] = last;
    return a;
}

} // namespace

TEST_CASE("sockdiag: tcp listener on 127.0.0.1", "[sockdiag]") {
    const auto s = parse_inet_diag_message(message({}), Protocol::tcp);
    REQUIRE(s.has_value());
    CHECK(*s == ListeningSocket{Family::ipv4, Protocol::tcp, "127.0.0.1", 11211, std::nullopt,
                                false, 4242});
}

TEST_CASE("sockdiag: IPv6 sockets and V6ONLY", "[sockdiag]") {
    Diag d;
    d.family = AF_INET6;
    d.local = v6(0);
    d.remote = v6(0);
    SECTION("dual-stack :: (V6ONLY off)") {
        d.v6only = 0;
        const auto s = parse_inet_diag_message(message(d), Protocol::tcp);
        REQUIRE(s.has_value());
        CHECK(s->address == "::");
        CHECK(s->v6only == std::optional<bool>(false));
        CHECK(s->v6only_unknown_or_dual);
    }
    SECTION("V6ONLY on") {
        d.v6only = 1;
        const auto s = parse_inet_diag_message(message(d), Protocol::tcp);
        REQUIRE(s.has_value());
        CHECK(s->v6only == std::optional<bool>(true));
        CHECK(!s->v6only_unknown_or_dual);
    }
    SECTION("not reported: unknown, so maybe dual") {
        d.local = v6(1);
        const auto s = parse_inet_diag_message(message(d), Protocol::tcp);
        REQUIRE(s.has_value());
        CHECK(s->address == "::1");
        CHECK(!s->v6only);
        CHECK(s->v6only_unknown_or_dual);
    }
}

TEST_CASE("sockdiag: udp sockets count as listening while they have no peer", "[sockdiag]") {
    Diag d;
    d.state = TCP_CLOSE;
    d.local = {0, 0, 0, 0};
    SECTION("bound, unconnected") {
        const auto s = parse_inet_diag_message(message(d), Protocol::udp);
        REQUIRE(s.has_value());
        CHECK(s->protocol == Protocol::udp);
        CHECK(s->address == "0.0.0.0");
        CHECK(s->port == 11211);
    }
    SECTION("connected") {
        d.state = TCP_ESTABLISHED;
        d.remote = {10, 0, 0, 9};
        d.remote_port = 5000;
        CHECK(!parse_inet_diag_message(message(d), Protocol::udp));
    }
    SECTION("not bound to a port") {
        d.port = 0;
        CHECK(!parse_inet_diag_message(message(d), Protocol::udp));
    }
}

TEST_CASE("sockdiag: tcp sockets other than LISTEN are skipped", "[sockdiag]") {
    Diag d;
    d.state = TCP_ESTABLISHED;
    d.remote = {127, 0, 0, 5};
    d.remote_port = 40000;
    CHECK(!parse_inet_diag_message(message(d), Protocol::tcp));
}

TEST_CASE("sockdiag: malformed or unrelated messages give nullopt", "[sockdiag]") {
    SECTION("protocol attribute disagrees with the dump") {
        Diag d;
        d.protocol = IPPROTO_UDP;
        CHECK(!parse_inet_diag_message(message(d), Protocol::tcp));
        d.protocol = IPPROTO_TCP;
        CHECK(parse_inet_diag_message(message(d), Protocol::tcp));
    }
    SECTION("V6ONLY of 4 bytes") {
        MessageBuilder b(SOCK_DIAG_BY_FAMILY);
        inet_diag_msg m{};
        m.idiag_family = AF_INET6;
        m.idiag_state = TCP_LISTEN;
        m.id.idiag_sport = test::be16(11211);
        b.extra(m);
        mnl_attr_put_u32(b.nlh(), INET_DIAG_SKV6ONLY, 1);
        CHECK(!parse_inet_diag_message(b.bytes(), Protocol::tcp));
    }
    SECTION("unknown family") {
        Diag d;
        d.family = AF_UNIX;
        CHECK(!parse_inet_diag_message(message(d), Protocol::tcp));
    }
    SECTION("another message type") {
        MessageBuilder b(NLMSG_MIN_TYPE + 1);
        b.extra(inet_diag_msg{});
        CHECK(!parse_inet_diag_message(b.bytes(), Protocol::tcp));
    }
    SECTION("payload shorter than inet_diag_msg") {
        MessageBuilder b(SOCK_DIAG_BY_FAMILY);
        const std::uint32_t word = 0x0a02;
        b.extra(word);
        CHECK(!parse_inet_diag_message(b.bytes(), Protocol::tcp));
    }
}

TEST_CASE("sockdiag: truncations and corruption never read past the bytes",
          "[sockdiag][bounds]") {
    Diag d;
    d.family = AF_INET6;
    d.local = v6(1);
    d.remote = v6(0);
    d.v6only = 1;
    const auto full = message(d);
    for (std::size_t n = 0; n < full.size(); ++n) {
        std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        cut.shrink_to_fit();
        CHECK(!parse_inet_diag_message(cut, Protocol::tcp));
    }
    std::mt19937 rng(99);
    for (int round = 0; round < 20000; ++round) {
        auto bytes = full;
        for (int i = 0; i < 3; ++i) {
            bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
        }
        bytes.resize(rng() % (bytes.size() + 1));
        bytes.shrink_to_fit();
        (void)parse_inet_diag_message(bytes, Protocol::udp);
    }
    SUCCEED("no crash, no sanitizer report");
}
