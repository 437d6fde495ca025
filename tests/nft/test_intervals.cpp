// Interval elements: merging, the top of the address space, and reading elements back.
#include "intervals.hpp"

#include "catch.hpp"

using namespace memguard;
using namespace memguard::nft;

namespace {

std::vector<Network> nets(std::initializer_list<const char*> texts) {
    std::vector<Network> out;
    for (const char* t : texts) {
        auto n = parse_network(t);
        REQUIRE(n);
        out.push_back(n->canonical());
    }
    return out;
}

std::vector<std::string> texts(const std::vector<Network>& networks) {
    std::vector<std::string> out;
    for (const auto& n : networks) {
        out.push_back(n.to_string());
    }
    return out;
}

std::string key4(const IntervalElement& e) {
    return std::to_string(e.key[0]) + "." + std::to_string(e.key[1]) + "." +
           std::to_string(e.key[2]) + "." + std::to_string(e.key[3]) + (e.end ? " end" : "");
}

} // namespace

TEST_CASE("overlapping, repeated and adjacent networks merge", "[nft][intervals]") {
    const auto n = nets({"10.0.0.0/8", "10.1.0.0/16", "192.168.1.0/24", "10.0.0.0/8",
                         "192.168.0.0/24", "172.16.0.0/12", "::1"});
    const auto ranges = merged_ranges(Family::ipv4, n);
    REQUIRE(ranges.size() == 3);
    CHECK(texts(range_networks(ranges)) ==
          std::vector<std::string>{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/23"});
}

TEST_CASE("each range is a start and an end at last + 1", "[nft][intervals]") {
    const auto ranges = merged_ranges(Family::ipv4, nets({"10.0.0.0/8", "192.168.1.7"}));
    const auto elements = interval_elements(Family::ipv4, ranges);
    std::vector<std::string> got;
    for (const auto& e : elements) {
        got.push_back(key4(e));
    }
    CHECK(got ==
          std::vector<std::string>{"10.0.0.0", "11.0.0.0 end", "192.168.1.7", "192.168.1.8 end"});
}

TEST_CASE("a range reaching the top has no end element and /0 is one start at 0",
          "[nft][intervals]") {
    auto top =
        interval_elements(Family::ipv4, merged_ranges(Family::ipv4, nets({"255.255.255.0/24"})));
    REQUIRE(top.size() == 1);
    CHECK(key4(top[0]) == "255.255.255.0");
    auto all = interval_elements(Family::ipv4,
                                 merged_ranges(Family::ipv4, nets({"0.0.0.0/0", "10.0.0.0/8"})));
    REQUIRE(all.size() == 1);
    CHECK(key4(all[0]) == "0.0.0.0");
    auto six = interval_elements(Family::ipv6, merged_ranges(Family::ipv6, nets({"::/0"})));
    REQUIRE(six.size() == 1);
    CHECK(six[0].key == Address{});
}

TEST_CASE("elements read back in any order give the ranges again", "[nft][intervals]") {
    const auto ranges = merged_ranges(
        Family::ipv6, nets({"fd00::/8", "2001:db8::1", "ffff::/16", "2001:db8::2/127"}));
    auto elements = interval_elements(Family::ipv6, ranges);
    std::reverse(elements.begin(), elements.end()); // the kernel dumps an rbtree backwards
    CHECK(ranges_from_elements(Family::ipv6, elements) == ranges);
    CHECK(texts(range_networks(ranges)) ==
          std::vector<std::string>{"2001:db8::1", "2001:db8::2/127", "fd00::/8", "ffff::/16"});
}

TEST_CASE("nft's end element at 0 and adjacent kernel ranges are tolerated", "[nft][intervals]") {
    std::vector<IntervalElement> elements{
        {Address{}, true},    {Address{10}, false}, {Address{11}, true},
        {Address{11}, false}, {Address{12}, true},
    };
    const auto ranges = ranges_from_elements(Family::ipv4, elements);
    CHECK(texts(range_networks(ranges)) == std::vector<std::string>{"10.0.0.0/7"});
}

TEST_CASE("subtract says what one list has that the other does not", "[nft][intervals]") {
    const auto have = merged_ranges(Family::ipv4, nets({"10.0.0.0/8", "203.0.113.7"}));
    const auto want = merged_ranges(Family::ipv4, nets({"10.0.0.0/9", "192.0.2.0/24"}));
    CHECK(texts(range_networks(subtract(have, want))) ==
          std::vector<std::string>{"10.128.0.0/9", "203.0.113.7"});
    CHECK(texts(range_networks(subtract(want, have))) == std::vector<std::string>{"192.0.2.0/24"});
    CHECK(subtract(want, want).empty());
}

TEST_CASE("a range that is not a CIDR splits into the fewest networks", "[nft][intervals]") {
    Range r{Family::ipv4, Address{10, 0, 0, 1}, Address{10, 0, 0, 6}};
    CHECK(texts(range_networks(r)) ==
          std::vector<std::string>{"10.0.0.1", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6"});
}

TEST_CASE("subtract and merge agree with address-by-address sets", "[nft][intervals]") {
    // Random networks within 10.0.0.0/24, checked against a bitmap of its 256 addresses.
    std::uint32_t seed = 12345;
    const auto next = [&seed] { return seed = seed * 1103515245U + 12345U; };
    const auto random_list = [&] {
        std::vector<Network> out;
        const std::size_t count = next() % 12;
        for (std::size_t i = 0; i < count; ++i) {
            Network n;
            n.addr = {10, 0, 0, static_cast<std::uint8_t>(next() & 0xFF)};
            n.prefix = 24 + next() % 9;
            out.push_back(n.canonical());
        }
        return out;
    };
    const auto bitmap = [](const std::vector<Range>& ranges) {
        std::array<bool, 256> bits{};
        for (const Range& r : ranges) {
            for (unsigned a = r.first[3]; a <= r.last[3]; ++a) {
                bits[a] = true;
            }
        }
        return bits;
    };
    for (int round = 0; round < 500; ++round) {
        const auto a = merged_ranges(Family::ipv4, random_list());
        const auto b = merged_ranges(Family::ipv4, random_list());
        const auto diff = bitmap(subtract(a, b));
        const auto in_a = bitmap(a);
        const auto in_b = bitmap(b);
        for (unsigned x = 0; x < 256; ++x) {
            REQUIRE(diff[x] == (in_a[x] && !in_b[x]));
        }
        REQUIRE(ranges_from_elements(Family::ipv4, interval_elements(Family::ipv4, a)) == a);
        const auto rest = subtract(a, b);
        REQUIRE(merged_ranges(Family::ipv4, range_networks(rest)) == rest);
    }
}
