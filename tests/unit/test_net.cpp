#include "support.hpp"

#include "net.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

using memguard::Family;
using memguard::Network;
using memguard::network_from_mask;
using memguard::parse_network;
using unit::net;

namespace {

std::array<std::uint8_t, 16> bytes(std::initializer_list<std::uint8_t> list) {
    std::array<std::uint8_t, 16> out{};
    std::size_t i = 0;
    for (const auto b : list) {
        out[i++] = b;
    }
    return out;
}

} // namespace

TEST_CASE("net: IPv4 network parses into family - bytes and prefix") {
    const auto n = parse_network("192.168.1.0/24");
    REQUIRE(n.has_value());
    CHECK(n->family == Family::ipv4);
    CHECK(n->addr == bytes({192, 168, 1, 0}));
    CHECK(n->prefix == 24);
    CHECK(n->size() == 4);
    CHECK(n->max_prefix() == 32);
    CHECK(n->to_string() == "192.168.1.0/24");
}

TEST_CASE("net: IPv6 network parses into family - bytes and prefix") {
    const auto n = parse_network("fd12:3456::/48");
    REQUIRE(n.has_value());
    CHECK(n->family == Family::ipv6);
    CHECK(n->addr == bytes({0xfd, 0x12, 0x34, 0x56}));
    CHECK(n->prefix == 48);
    CHECK(n->size() == 16);
    CHECK(n->max_prefix() == 128);
    CHECK(n->to_string() == "fd12:3456::/48");
}

TEST_CASE("net: a bare address is a full-length prefix and prints without it") {
    const auto v4 = parse_network("10.1.2.3");
    REQUIRE(v4.has_value());
    CHECK(v4->family == Family::ipv4);
    CHECK(v4->prefix == 32);
    CHECK(v4->addr == bytes({10, 1, 2, 3}));
    CHECK(v4->to_string() == "10.1.2.3");

    const auto v6 = parse_network("2001:db8::1");
    REQUIRE(v6.has_value());
    CHECK(v6->family == Family::ipv6);
    CHECK(v6->prefix == 128);
    CHECK(v6->addr == bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
    CHECK(v6->to_string() == "2001:db8::1");
}

TEST_CASE("net: prefixes /0 /32 /128 at the edges") {
    const auto any4 = parse_network("0.0.0.0/0");
    REQUIRE(any4.has_value());
    CHECK(any4->prefix == 0);
    CHECK(any4->to_string() == "0.0.0.0/0");

    const auto host4 = parse_network("10.1.2.3/32");
    REQUIRE(host4.has_value());
    CHECK(host4->prefix == 32);
    CHECK(host4->to_string() == "10.1.2.3");
    CHECK(*host4 == *parse_network("10.1.2.3"));

    const auto any6 = parse_network("::/0");
    REQUIRE(any6.has_value());
    CHECK(any6->family == Family::ipv6);
    CHECK(any6->prefix == 0);
    CHECK(any6->to_string() == "::/0");

    const auto host6 = parse_network("::1/128");
    REQUIRE(host6.has_value());
    CHECK(host6->prefix == 128);
    CHECK(host6->to_string() == "::1");
}

TEST_CASE("net: printing is canonical and round-trips") {
    CHECK(net("FD12:3456:0:0::/48").to_string() == "fd12:3456::/48");
    CHECK(net("2001:0db8:0000:0000:0000:0000:0000:0001").to_string() == "2001:db8::1");
    CHECK(net("::ffff:192.0.2.1").family == Family::ipv6);
    CHECK(net("::ffff:192.0.2.1").to_string() == "::ffff:192.0.2.1");
    for (const std::string_view text :
         {"192.168.1.0/24", "10.0.0.0/8", "0.0.0.0/0", "172.16.0.0/12", "10.1.2.3", "::/0",
          "fd12:3456::/48", "2001:db8::/32", "fe80::/10", "2001:db8::1"}) {
        INFO(text);
        CHECK(net(text).to_string() == text);
        CHECK(net(net(text).to_string()) == net(text));
    }
}

TEST_CASE("net: malformed networks are rejected") {
    for (const std::string_view text : {"192.168.1.300/24",
                                        "10.0.0.0/33",
                                        "::/129",
                                        "garbage",
                                        "10.0.0.0/",
                                        "10.0.0.0/-1",
                                        "10.0.0.0/+8",
                                        "10.0.0.0/ 8",
                                        "10.0.0.0/08x",
                                        "",
                                        "/",
                                        "/8",
                                        " 10.0.0.0/8",
                                        "10.0.0.0/8 ",
                                        "10.0.0.0/8/8",
                                        "10.0.0/8",
                                        "1.2.3.4.5",
                                        "10.0.0.0/0x8",
                                        "::/1280",
                                        "fe80::1%eth0",
                                        "fd12:3456::/48x",
                                        "fd12::3456::/48",
                                        "10.0.0.0/4294967304",
                                        "10.0.0.0/99999999999999999999"}) {
        INFO("input: \"" << text << "\"");
        CHECK_FALSE(parse_network(text).has_value());
    }
}

TEST_CASE("net: an address with an embedded NUL byte is rejected") {
    // JSON allows "\u0000" inside a string; the bytes after it must not be silently dropped.
    using namespace std::string_view_literals;
    CHECK_FALSE(parse_network("10.0.0.1\0garbage"sv).has_value());
    CHECK_FALSE(parse_network("10.0.0.0\0/8"sv).has_value());
    CHECK_FALSE(parse_network("10.0.0.0\0junk/8"sv).has_value());
    CHECK_FALSE(parse_network("::1\0x"sv).has_value());
}

TEST_CASE("net: mask bytes for a prefix") {
    CHECK(net("10.0.0.0/8").mask() == bytes({0xff, 0, 0, 0}));
    CHECK(net("10.0.0.0/20").mask() == bytes({0xff, 0xff, 0xf0, 0}));
    CHECK(net("0.0.0.0/0").mask() == bytes({}));
    CHECK(net("10.0.0.1").mask() == bytes({0xff, 0xff, 0xff, 0xff}));
    CHECK(net("fd12:3456::/48").mask() == bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
    CHECK(net("fe80::/10").mask() == bytes({0xff, 0xc0}));
    std::array<std::uint8_t, 16> all{};
    all.fill(0xff);
    CHECK(net("::1").mask() == all);
    all[15] = 0xfe;
    CHECK(net("::/127").mask() == all);
}

TEST_CASE("net: host bits are detected") {
    CHECK(net("192.168.1.1/24").has_host_bits());
    CHECK(net("192.168.1.128/25").has_host_bits() == false);
    CHECK(net("192.168.1.129/25").has_host_bits());
    CHECK_FALSE(net("192.168.1.0/24").has_host_bits());
    CHECK_FALSE(net("10.1.2.3").has_host_bits());
    CHECK_FALSE(net("0.0.0.0/0").has_host_bits());
    CHECK(net("1.0.0.0/0").has_host_bits());
    CHECK(net("fd12:3456::1/48").has_host_bits());
    CHECK_FALSE(net("fd12:3456::/48").has_host_bits());
    CHECK_FALSE(net("::/0").has_host_bits());
    CHECK(net("::1/127").has_host_bits());
    CHECK_FALSE(net("2001:db8::1").has_host_bits());
}

TEST_CASE("net: canonical() clears host bits and keeps family and prefix") {
    const auto c = net("192.168.1.77/24").canonical();
    CHECK(c == net("192.168.1.0/24"));
    CHECK(c.to_string() == "192.168.1.0/24");
    CHECK(net("10.255.255.255/9").canonical().to_string() == "10.128.0.0/9");
    CHECK(net("1.2.3.4/0").canonical().to_string() == "0.0.0.0/0");
    CHECK(net("fd12:3456:ffff::1/36").canonical().to_string() == "fd12:3456:f000::/36");
    CHECK(net("fd12:3456::1/48").canonical() == net("fd12:3456::/48"));
    CHECK(net("::ffff/0").canonical() == net("::/0"));
    // Already canonical: unchanged.
    for (const std::string_view text : {"192.168.1.0/24", "10.1.2.3", "fd12:3456::/48", "::1"}) {
        INFO(text);
        CHECK(net(text).canonical() == net(text));
    }
    CHECK_FALSE(net("192.168.1.77/24").canonical().has_host_bits());
}

TEST_CASE("net: contains()") {
    const auto ten = net("10.0.0.0/8");
    CHECK(ten.contains(net("10.1.2.3")));
    CHECK(ten.contains(net("10.255.255.255")));
    CHECK(ten.contains(net("10.1.0.0/16")));
    CHECK(ten.contains(ten));
    CHECK_FALSE(ten.contains(net("11.0.0.1")));
    CHECK_FALSE(ten.contains(net("9.255.255.255")));
    CHECK_FALSE(ten.contains(net("0.0.0.0/0"))); // wider than ten
    CHECK_FALSE(ten.contains(net("10.0.0.0/7")));
    CHECK_FALSE(net("10.1.0.0/16").contains(ten));
    CHECK(net("0.0.0.0/0").contains(net("203.0.113.9")));
    CHECK(net("0.0.0.0/0").contains(net("0.0.0.0/0")));

    // Families never contain each other, not even the whole address space.
    CHECK_FALSE(net("0.0.0.0/0").contains(net("::/0")));
    CHECK_FALSE(net("::/0").contains(net("10.0.0.1")));
    CHECK_FALSE(net("::/0").contains(net("0.0.0.0/0")));
    CHECK(net("::/0").contains(net("fd12::1")));

    const auto ula = net("fd12:3456::/48");
    CHECK(ula.contains(net("fd12:3456::1")));
    CHECK(ula.contains(net("fd12:3456:0:ffff::/64")));
    CHECK_FALSE(ula.contains(net("fd12:3456:ffff::/64")));
    CHECK_FALSE(ula.contains(net("fd12:3457::1")));
    CHECK_FALSE(ula.contains(net("fd12::/16")));

    // A host is only itself.
    CHECK(net("10.1.2.3").contains(net("10.1.2.3")));
    CHECK_FALSE(net("10.1.2.3").contains(net("10.1.2.4")));
}

TEST_CASE("net: network_from_mask with contiguous masks") {
    const std::uint8_t addr4[4] = {192, 168, 1, 0};
    const std::uint8_t m24[4] = {255, 255, 255, 0};
    const auto n24 = network_from_mask(Family::ipv4, addr4, m24);
    REQUIRE(n24.has_value());
    CHECK(*n24 == net("192.168.1.0/24"));

    const std::uint8_t zero4[4] = {0, 0, 0, 0};
    const auto any = network_from_mask(Family::ipv4, zero4, zero4);
    REQUIRE(any.has_value());
    CHECK(*any == net("0.0.0.0/0"));

    const std::uint8_t host[4] = {10, 1, 2, 3};
    const std::uint8_t m32[4] = {255, 255, 255, 255};
    const auto h = network_from_mask(Family::ipv4, host, m32);
    REQUIRE(h.has_value());
    CHECK(*h == net("10.1.2.3"));

    const std::uint8_t m31[4] = {255, 255, 255, 254};
    const std::uint8_t addr31[4] = {10, 0, 0, 2};
    CHECK(network_from_mask(Family::ipv4, addr31, m31) == parse_network("10.0.0.2/31"));

    const std::uint8_t m9[4] = {255, 128, 0, 0};
    const std::uint8_t addr9[4] = {10, 128, 0, 0};
    CHECK(network_from_mask(Family::ipv4, addr9, m9) == parse_network("10.128.0.0/9"));

    // The address is kept as given, so the caller can see host bits.
    const std::uint8_t m8[4] = {255, 0, 0, 0};
    const auto with_host = network_from_mask(Family::ipv4, host, m8);
    REQUIRE(with_host.has_value());
    CHECK(with_host->prefix == 8);
    CHECK(with_host->has_host_bits());

    const auto ula = net("fd12:3456::/48");
    const auto m48 = ula.mask();
    const auto n48 = network_from_mask(Family::ipv6, ula.addr.data(), m48.data());
    REQUIRE(n48.has_value());
    CHECK(*n48 == ula);

    const auto one = net("2001:db8::1");
    const auto m128 = one.mask();
    CHECK(network_from_mask(Family::ipv6, one.addr.data(), m128.data()) == one);

    const std::array<std::uint8_t, 16> zero16{};
    CHECK(network_from_mask(Family::ipv6, zero16.data(), zero16.data()) == parse_network("::/0"));
}

TEST_CASE("net: network_from_mask refuses non-contiguous masks") {
    const std::uint8_t addr4[4] = {10, 0, 0, 0};
    for (const auto& mask :
         {std::array<std::uint8_t, 4>{255, 0, 255, 0},
          std::array<std::uint8_t, 4>{0, 255, 255, 255},
          std::array<std::uint8_t, 4>{255, 255, 255, 253}, std::array<std::uint8_t, 4>{0, 0, 0, 1},
          std::array<std::uint8_t, 4>{254, 255, 0, 0},
          std::array<std::uint8_t, 4>{255, 127, 0, 0}}) {
        INFO("mask " << int{mask[0]} << "." << int{mask[1]} << "." << int{mask[2]} << "."
                     << int{mask[3]});
        CHECK_FALSE(network_from_mask(Family::ipv4, addr4, mask.data()).has_value());
    }
    const std::array<std::uint8_t, 16> addr6{};
    std::array<std::uint8_t, 16> mask6{};
    mask6[15] = 0xff;
    CHECK_FALSE(network_from_mask(Family::ipv6, addr6.data(), mask6.data()).has_value());
    mask6 = net("fd12:3456::/48").mask();
    mask6[10] = 0x80;
    CHECK_FALSE(network_from_mask(Family::ipv6, addr6.data(), mask6.data()).has_value());
}

TEST_CASE("net: family names") {
    CHECK(memguard::to_string(Family::ipv4) == "ipv4");
    CHECK(memguard::to_string(Family::ipv6) == "ipv6");
}
