// NetworkIndex: the same answers as a linear Network::contains scan, only faster.
#include "support.hpp"

#include "network_index.hpp"

#include <algorithm>
#include <optional>
#include <random>
#include <vector>

using memguard::Family;
using memguard::Network;
using memguard::NetworkIndex;
using unit::net;

namespace {

bool naive_contains(const std::vector<Network>& networks, const Network& host) {
    return std::any_of(networks.begin(), networks.end(),
                       [&](const Network& n) { return n.contains(host); });
}

// A random network of `family`. Addresses come from a small pool of leading bytes so that
// networks and hosts overlap often; host bits are left as drawn.
Network random_network(std::mt19937& rng, Family family, unsigned prefix) {
    Network n;
    n.family = family;
    n.prefix = prefix;
    for (std::size_t i = 0; i < n.size(); ++i) {
        n.addr[i] = static_cast<std::uint8_t>(i < 2 ? rng() % 3 : rng() % 256);
    }
    return n;
}

// The narrowest network containing `host`, canonical; nullopt when none does.
std::optional<Network> naive_most_specific(const std::vector<Network>& networks,
                                           const Network& host) {
    std::optional<Network> best;
    for (const auto& n : networks) {
        if (n.contains(host) && (!best || n.prefix > best->prefix)) {
            best = n.canonical();
        }
    }
    return best;
}

Network random_host(std::mt19937& rng, Family family) {
    return random_network(rng, family, family == Family::ipv4 ? 32 : 128);
}

} // namespace

TEST_CASE("network index: hosts inside and outside IPv4 and IPv6 networks") {
    const std::vector<Network> networks{net("192.168.1.0/24"), net("10.0.0.0/8"),
                                        net("203.0.113.7"), net("fd12:3456::/48"),
                                        net("2001:db8::1")};
    const NetworkIndex index(networks);
    CHECK(index.size() == 5);
    CHECK(index.contains(net("192.168.1.77")));
    CHECK(index.contains(net("10.255.0.1")));
    CHECK(index.contains(net("203.0.113.7")));
    CHECK(index.contains(net("fd12:3456:0:ffff::1")));
    CHECK(index.contains(net("2001:db8::1")));
    CHECK(!index.contains(net("192.168.2.1")));
    CHECK(!index.contains(net("11.0.0.1")));
    CHECK(!index.contains(net("203.0.113.8")));
    CHECK(!index.contains(net("fd12:3457::1")));
    CHECK(!index.contains(net("2001:db8::2")));
}

TEST_CASE("network index: families never mix") {
    const NetworkIndex v4_everything(std::vector<Network>{net("0.0.0.0/0")});
    CHECK(v4_everything.contains(net("198.51.100.1")));
    CHECK(!v4_everything.contains(net("::1")));
    CHECK(!v4_everything.contains(net("::ffff:198.51.100.1")));
    const NetworkIndex v6_everything(std::vector<Network>{net("::/0")});
    CHECK(v6_everything.contains(net("::1")));
    CHECK(!v6_everything.contains(net("0.0.0.0")));
}

TEST_CASE("network index: networks, as Network::contains takes them") {
    const NetworkIndex index(std::vector<Network>{net("10.0.0.0/16")});
    CHECK(index.contains(net("10.0.1.0/24")));
    CHECK(index.contains(net("10.0.0.0/16")));
    CHECK(!index.contains(net("10.0.0.0/8"))); // wider than any network indexed
}

TEST_CASE("network index: host bits and duplicates are folded") {
    const NetworkIndex index(std::vector<Network>{net("10.1.2.3/8"), net("10.0.0.0/8"),
                                                  net("10.9.9.9/8"), net("::1"), net("::1")});
    CHECK(index.size() == 2);
    CHECK(index.contains(net("10.200.0.1")));
    CHECK(index.contains(net("::1")));
}

TEST_CASE("network index: the narrowest network that holds a host") {
    const NetworkIndex index(std::vector<Network>{net("10.0.0.0/8"), net("10.7.0.8/29"),
                                                  net("10.7.0.0/16"), net("10.7.0.10"),
                                                  net("fd07::/16"), net("fd07:0:0:1::/64")});
    CHECK(index.most_specific(net("10.7.0.10")) == net("10.7.0.10"));
    CHECK(index.most_specific(net("10.7.0.9")) == net("10.7.0.8/29"));
    CHECK(index.most_specific(net("10.7.1.9")) == net("10.7.0.0/16"));
    CHECK(index.most_specific(net("10.8.0.1")) == net("10.0.0.0/8"));
    CHECK(index.most_specific(net("fd07:0:0:1::9")) == net("fd07:0:0:1::/64"));
    CHECK(index.most_specific(net("fd07:0:0:2::9")) == net("fd07::/16"));
    CHECK(index.most_specific(net("10.7.0.0/24")) == net("10.7.0.0/16"));
    CHECK(!index.most_specific(net("11.0.0.1")));
    CHECK(!index.most_specific(net("::ffff:10.7.0.10"))); // families never mix
    const NetworkIndex host_bits(std::vector<Network>{net("192.168.1.77/24")});
    CHECK(host_bits.most_specific(net("192.168.1.5")) == net("192.168.1.0/24"));
    CHECK(!NetworkIndex().most_specific(net("::1")));
}

TEST_CASE("network index: an empty index contains nothing") {
    const NetworkIndex none;
    CHECK(none.empty());
    CHECK(!none.contains(net("127.0.0.1")));
    const NetworkIndex also_none(std::vector<Network>{});
    CHECK(also_none.empty());
    CHECK(!also_none.contains(net("::")));
}

TEST_CASE("network index: agrees with a linear scan on random networks and hosts") {
    std::mt19937 rng(20240611);
    for (int round = 0; round < 50; ++round) {
        std::vector<Network> networks;
        const std::size_t count = 1 + rng() % 200;
        for (std::size_t i = 0; i < count; ++i) {
            const Family family = rng() % 2 == 0 ? Family::ipv4 : Family::ipv6;
            const unsigned max = family == Family::ipv4 ? 32 : 128;
            networks.push_back(
                random_network(rng, family, static_cast<unsigned>(rng() % (max + 1))));
        }
        const NetworkIndex index(networks);
        for (int probe = 0; probe < 400; ++probe) {
            const Family family = rng() % 2 == 0 ? Family::ipv4 : Family::ipv6;
            Network host = random_host(rng, family);
            if (probe % 4 == 0) {
                // Sometimes a network of random width, which may or may not fit in one indexed.
                host.prefix = static_cast<unsigned>(rng() % (host.max_prefix() + 1));
            } else if (probe % 4 == 1) {
                host = networks[rng() % networks.size()]; // an indexed network itself
            }
            INFO("host " << host.to_string() << " among " << networks.size() << " networks");
            CHECK(index.contains(host) == naive_contains(networks, host));
            CHECK(index.most_specific(host) == naive_most_specific(networks, host));
        }
    }
}

TEST_CASE("network index: 100,000 networks, answers agree with the linear scan") {
    std::mt19937 rng(7);
    std::vector<Network> networks;
    networks.reserve(100000);
    for (std::size_t i = 0; i < 100000; ++i) {
        const Family family = i % 2 == 0 ? Family::ipv4 : Family::ipv6;
        const unsigned prefix = family == Family::ipv4 ? 16 + static_cast<unsigned>(rng() % 17)
                                                       : 32 + static_cast<unsigned>(rng() % 97);
        networks.push_back(random_network(rng, family, prefix));
    }
    std::vector<Network> hosts;
    for (int i = 0; i < 10000; ++i) {
        hosts.push_back(random_host(rng, i % 2 == 0 ? Family::ipv4 : Family::ipv6));
    }
    // How fast is bench/'s question; here only whether the answers are right at this size.
    const NetworkIndex index(networks);
    std::size_t hits = 0;
    for (const auto& host : hosts) {
        hits += index.contains(host) ? 1 : 0;
    }
    CHECK(hits > 0);
    // A sample of the lookups against the scan, to know the fast answers are right ones.
    for (std::size_t i = 0; i < 100; ++i) {
        CHECK(index.contains(hosts[i]) == naive_contains(networks, hosts[i]));
    }
}
