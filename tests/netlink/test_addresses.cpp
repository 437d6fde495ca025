// parse_address_message: RTM_NEWADDR messages built byte by byte, as an address dump sends them.
#include "support.hpp"

#include "netlink/addresses.hpp"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <functional>
#include <string>

using memguard::netlink::parse_address_message;

namespace {

struct Address {
    std::uint16_t type = RTM_NEWADDR;
    std::uint8_t family = AF_INET;
    std::vector<std::uint8_t> address{10, 9, 0, 1}; // IFA_ADDRESS; empty: none
    std::vector<std::uint8_t> local{10, 9, 0, 1};   // IFA_LOCAL; empty: none
    bool local_first = true;                        // the kernel's order for IPv4
};

std::vector<std::uint8_t> message(const Address& a) {
    test::MessageBuilder b(a.type, NLM_F_MULTI);
    ifaddrmsg ifa{};
    ifa.ifa_family = a.family;
    ifa.ifa_prefixlen = a.family == AF_INET ? 24 : 64; // the network's, not the result's
    ifa.ifa_index = 2;
    b.extra(ifa);
    const auto put = [&](std::uint16_t type, const std::vector<std::uint8_t>& bytes) {
        if (!bytes.empty()) {
            mnl_attr_put(b.nlh(), type, bytes.size(), bytes.data());
        }
    };
    if (a.local_first) {
        put(IFA_LOCAL, a.local);
        put(IFA_ADDRESS, a.address);
    } else {
        put(IFA_ADDRESS, a.address);
        put(IFA_LOCAL, a.local);
    }
    // What else a dump carries: a label, flags, cache info.
    mnl_attr_put_strz(b.nlh(), IFA_LABEL, "mg0");
    mnl_attr_put_u32(b.nlh(), IFA_FLAGS, IFA_F_PERMANENT);
    const ifa_cacheinfo cache{0xFFFFFFFF, 0xFFFFFFFF, 100, 100};
    mnl_attr_put(b.nlh(), IFA_CACHEINFO, sizeof cache, &cache);
    return b.bytes();
}

const std::vector<std::uint8_t> kV6Own{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const std::vector<std::uint8_t> kV6Peer{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

// An IPv6 address without a peer: the kernel sends IFA_ADDRESS alone.
Address ipv6() {
    Address a;
    a.family = AF_INET6;
    a.address = kV6Own;
    a.local.clear();
    return a;
}

// What the parser makes of `a`, as text with its prefix ("nullopt" for nothing), so that a
// failed check shows what came back.
std::string parsed(const Address& a) {
    const auto n = parse_address_message(message(a));
    return n ? n->to_string() + "/" + std::to_string(n->prefix) : "nullopt";
}

// `a` after `change`.
Address with(Address a, const std::function<void(Address&)>& change) {
    change(a);
    return a;
}

} // namespace

TEST_CASE("addresses: an address comes back as a full-length prefix", "[addresses]") {
    CHECK(parsed(Address{}) == "10.9.0.1/32");
    CHECK(parsed(ipv6()) == "fd00::1/128");
}

TEST_CASE("addresses: IFA_LOCAL wins over a point-to-point peer in IFA_ADDRESS", "[addresses]") {
    Address a;
    a.local = {10, 0, 0, 1};
    a.address = {10, 0, 0, 2};
    CHECK(parsed(a) == "10.0.0.1/32");
    a.local_first = false;
    CHECK(parsed(a) == "10.0.0.1/32");
    a.local.clear();
    CHECK(parsed(a) == "10.0.0.2/32");

    Address v6 = ipv6();
    v6.local = kV6Own;
    v6.address = kV6Peer;
    CHECK(parsed(v6) == "fd00::1/128");
}

TEST_CASE("addresses: malformed or unrelated messages give nullopt", "[addresses]") {
    CHECK(parsed(with({}, [](Address& a) { a.type = RTM_DELADDR; })) == "nullopt");
    CHECK(parsed(with({}, [](Address& a) { a.type = RTM_NEWLINK; })) == "nullopt");
    CHECK(parsed(with({}, [](Address& a) { a.family = AF_UNSPEC; })) == "nullopt");
    CHECK(parsed(with({}, [](Address& a) { a.family = AF_PACKET; })) == "nullopt");
    // The family and the size of the addresses disagree.
    CHECK(parsed(with({}, [](Address& a) { a.family = AF_INET6; })) == "nullopt");
    CHECK(parsed(with(ipv6(), [](Address& a) { a.family = AF_INET; })) == "nullopt");
    // A good IFA_ADDRESS does not excuse a bad IFA_LOCAL.
    CHECK(parsed(with({}, [](Address& a) { a.local = {10, 9, 0}; })) == "nullopt");
    CHECK(parsed(with({}, [](Address& a) {
              a.address.clear();
              a.local.clear();
          })) == "nullopt");

    // No ifaddrmsg after the header; empty and tiny inputs.
    CHECK(!parse_address_message(test::MessageBuilder(RTM_NEWADDR).bytes()));
    CHECK(!parse_address_message({}));
    const std::vector<std::uint8_t> three{1, 2, 3};
    CHECK(!parse_address_message(three));
}

TEST_CASE("addresses: every truncation is rejected without reading past the bytes",
          "[addresses][bounds]") {
    for (const auto& full : {message(Address{}), message(ipv6())}) {
        const auto whole = parse_address_message(full);
        REQUIRE(whole.has_value());
        test::check_cut_short(full, parse_address_message);
        test::check_shortened(full, parse_address_message, *whole);
    }
}

TEST_CASE("addresses: misaligned input parses the same", "[addresses][bounds]") {
    const auto shifted = test::shifted_by_one(message(Address{}));
    const auto n = parse_address_message(std::span(shifted).subspan(1));
    REQUIRE(n.has_value());
    CHECK(n->to_string() == "10.9.0.1");
}

TEST_CASE("addresses: random corruption never crashes", "[addresses][bounds]") {
    test::corrupt_randomly(message(Address{}), 4242, 20000, parse_address_message);
    test::corrupt_randomly(message(ipv6()), 4243, 20000, parse_address_message);
    SUCCEED("no crash, no sanitizer report");
}
