// parse_inet_diag_message: SOCK_DIAG_BY_FAMILY replies built byte by byte.
#include "support.hpp"

#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
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
    bool v6only_as_u32 = false; // a malformed INET_DIAG_SKV6ONLY: 4 bytes, not 1
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
    if (d.v6only && d.v6only_as_u32) {
        mnl_attr_put_u32(b.nlh(), INET_DIAG_SKV6ONLY, *d.v6only);
    } else if (d.v6only) {
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
        Diag d;
        d.family = AF_INET6;
        d.local = v6(0);
        d.remote = v6(0);
        d.v6only = 1;
        CHECK(parse_inet_diag_message(message(d), Protocol::tcp));
        d.v6only_as_u32 = true;
        CHECK(!parse_inet_diag_message(message(d), Protocol::tcp));
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

TEST_CASE("sockdiag: truncations and corruption never read past the bytes", "[sockdiag][bounds]") {
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

namespace {

using memguard::netlink::parse_tcp_connection_message;
using memguard::netlink::TcpConnection;

// A memcached client's connection as the server's socket sees it.
Diag established() {
    Diag d;
    d.state = TCP_ESTABLISHED;
    d.local = {10, 0, 0, 1};
    d.remote = {10, 0, 0, 5};
    d.remote_port = 40000;
    return d;
}

TcpConnection established_connection() {
    return {.family = Family::ipv4,
            .local = test::net("10.0.0.1"),
            .local_port = 11211,
            .remote = test::net("10.0.0.5"),
            .remote_port = 40000,
            .state = TCP_ESTABLISHED};
}

} // namespace

TEST_CASE("sockdiag connections: an established tcp connection", "[sockdiag][clients]") {
    const auto c = parse_tcp_connection_message(message(established()));
    REQUIRE(c.has_value());
    CHECK(*c == established_connection());
    // Not a listener, and a listener is not a connection.
    CHECK(!parse_inet_diag_message(message(established()), Protocol::tcp));
    CHECK(!parse_tcp_connection_message(message({})));
}

TEST_CASE("sockdiag connections: IPv6, and an IPv4 peer of a dual-stack socket",
          "[sockdiag][clients]") {
    Diag d = established();
    d.family = AF_INET6;
    d.local = v6(1);
    d.remote = {0xfd, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
    auto c = parse_tcp_connection_message(message(d));
    REQUIRE(c.has_value());
    CHECK(c->family == Family::ipv6);
    CHECK(c->local == test::net("::1"));
    CHECK(c->remote == test::net("fd07::5"));

    // The parser reports what the socket holds; the grouping reads it as IPv4.
    d.local = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
    d.remote = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 5};
    c = parse_tcp_connection_message(message(d));
    REQUIRE(c.has_value());
    CHECK(c->remote == test::net("::ffff:10.0.0.5"));
    CHECK(c->local == test::net("::ffff:10.0.0.1"));
}

TEST_CASE("sockdiag connections: which tcp states count as connected", "[sockdiag][clients]") {
    const std::vector<int> connected{TCP_ESTABLISHED, TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_TIME_WAIT,
                                     TCP_CLOSE_WAIT,  TCP_LAST_ACK,  TCP_CLOSING};
    std::uint32_t mask = 0;
    for (int state = 0; state < 256; ++state) {
        Diag d = established();
        d.state = static_cast<std::uint8_t>(state);
        const bool wanted = std::find(connected.begin(), connected.end(), state) != connected.end();
        INFO("state " << state);
        CHECK(parse_tcp_connection_message(message(d)).has_value() == wanted);
        mask |= wanted ? 1u << static_cast<unsigned>(state) : 0;
    }
    CHECK(memguard::netlink::connected_tcp_states() == mask);
    // SYN_SENT (ours, outgoing), SYN_RECV (half open), LISTEN and CLOSE are not clients.
    CHECK((mask & ((1u << TCP_SYN_SENT) | (1u << TCP_SYN_RECV) | (1u << TCP_LISTEN) |
                   (1u << TCP_CLOSE))) == 0);
}

TEST_CASE("sockdiag connections: no peer, another protocol, malformed", "[sockdiag][clients]") {
    Diag d = established();
    SECTION("no remote port") {
        d.remote_port = 0;
        CHECK(!parse_tcp_connection_message(message(d)));
    }
    SECTION("no remote address") {
        d.remote = {0, 0, 0, 0};
        CHECK(!parse_tcp_connection_message(message(d)));
    }
    SECTION("no local port") {
        d.port = 0;
        CHECK(!parse_tcp_connection_message(message(d)));
    }
    SECTION("the protocol attribute says udp") {
        d.protocol = IPPROTO_UDP;
        CHECK(!parse_tcp_connection_message(message(d)));
        d.protocol = IPPROTO_TCP;
        CHECK(parse_tcp_connection_message(message(d)));
    }
    SECTION("unknown family") {
        d.family = AF_UNIX;
        CHECK(!parse_tcp_connection_message(message(d)));
    }
    SECTION("V6ONLY of 4 bytes") {
        d.v6only = 1;
        CHECK(parse_tcp_connection_message(message(d)));
        d.v6only_as_u32 = true;
        CHECK(!parse_tcp_connection_message(message(d)));
    }
    SECTION("another message type") {
        MessageBuilder b(NLMSG_DONE);
        b.extra(inet_diag_msg{});
        CHECK(!parse_tcp_connection_message(b.bytes()));
    }
}

TEST_CASE("sockdiag connections: truncation, misalignment and corruption stay in bounds",
          "[sockdiag][clients][bounds]") {
    Diag d = established();
    d.protocol = IPPROTO_TCP;
    const auto full = message(d);
    test::check_cut_short(full, parse_tcp_connection_message);
    test::check_shortened(full, parse_tcp_connection_message, established_connection());
    const auto shifted = test::shifted_by_one(full);
    const auto c = parse_tcp_connection_message(std::span(shifted).subspan(1));
    REQUIRE(c.has_value());
    CHECK(*c == established_connection());
    d.family = AF_INET6;
    d.local = v6(1);
    d.remote = v6(5);
    test::corrupt_randomly(message(d), 7, 20000, parse_tcp_connection_message);
    SUCCEED("no crash, no sanitizer report");
}

namespace {

// What `ss -tn '( sport = :PORT )'` sends for the connected states, by hand.
std::vector<std::uint8_t> expected_connections_dump(std::uint8_t family, std::uint16_t port) {
    std::vector<std::uint8_t> out;
    test::put32(out, 16 + 56 + 4 + 8); // nlmsg_len: header, inet_diag_req_v2, the bytecode
    test::put16(out, SOCK_DIAG_BY_FAMILY);
    test::put16(out, NLM_F_REQUEST | NLM_F_DUMP);
    test::put32(out, 0);                                // seq: stamped by transact
    test::put32(out, 0);                                // port id: the kernel's to fill
    out.insert(out.end(), {family, IPPROTO_TCP, 0, 0}); // sdiag_family, _protocol, ext, pad
    // ESTABLISHED 1, FIN_WAIT1 4, FIN_WAIT2 5, TIME_WAIT 6, CLOSE_WAIT 8, LAST_ACK 9, CLOSING 11
    test::put32(out, 0b1011'0111'0010);
    out.insert(out.end(), 48, 0); // inet_diag_sockid: no socket named
    test::attr(out, 12, INET_DIAG_REQ_BYTECODE);
    out.insert(out.end(), {INET_DIAG_BC_S_EQ, 8}); // code, yes: on to the end (accept)
    test::put16(out, 12);                          // no: one op past the end (reject)
    out.insert(out.end(), {INET_DIAG_BC_NOP, 0});  // the operand
    test::put16(out, port);
    return out;
}

} // namespace

TEST_CASE("sockdiag connections: the dump asks for connected tcp sockets on the port, byte for "
          "byte",
          "[sockdiag][clients]") {
    using memguard::netlink::build_tcp_connections_dump;
    CHECK(build_tcp_connections_dump(Family::ipv4, 11211) ==
          expected_connections_dump(AF_INET, 11211));
    CHECK(build_tcp_connections_dump(Family::ipv6, 11211) ==
          expected_connections_dump(AF_INET6, 11211));
    CHECK(build_tcp_connections_dump(Family::ipv4, 0xfffe) ==
          expected_connections_dump(AF_INET, 0xfffe));
}
