// Against the kernel, inside the namespace netns_main.cpp made: local_addresses sees the
// addresses configured here, and the sweep cuts exactly the conntrack entries to the guarded
// ports from sources neither allowed nor local. Entries are made with `conntrack -I`, as if the
// connections had got in while the port was open.
#include "netns_support.hpp"
#include "support.hpp"

#include "netlink/addresses.hpp"
#include "netlink/conntrack.hpp"
#include "netlink/socket.hpp"
#include "sweep.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <string>
#include <vector>

using memguard::Protocol;

namespace {

// A link of our own to hold addresses: a dummy where the kernel has the driver, else an empty
// bridge (no ports, so no traffic either way). Deleted, with its addresses, at the end.
class TestLink {
public:
    TestLink() {
        REQUIRE(test::run("ip link add mg0 type dummy 2>/dev/null || "
                          "ip link add mg0 type bridge") == 0);
        REQUIRE(test::run("ip addr add 10.9.0.1/24 dev mg0 && "
                          "ip addr add fd09::1/64 dev mg0 nodad && "
                          "ip addr add 10.9.2.1 peer 10.9.2.2/32 dev mg0 && ip link set mg0 up") ==
                0);
    }
    TestLink(const TestLink&) = delete;
    TestLink& operator=(const TestLink&) = delete;
    ~TestLink() { test::run("ip link del mg0"); }
};

// Conntrack's tables in this namespace, empty. The rule loads nf_conntrack where it is a module,
// as the revoke test's rule does.
void fresh_conntrack() {
    REQUIRE(test::run("iptables-legacy -F && iptables-legacy -A INPUT -m conntrack --ctstate "
                      "NEW,ESTABLISHED -j ACCEPT && conntrack -F 2>/dev/null") == 0);
}

struct Entry {
    std::string proto; // tcp, udp
    std::string src;
    std::string dst;
    std::uint16_t dport = 11211;
    bool cut = false; // the sweep should delete it

    [[nodiscard]] std::string filter() const {
        const bool v6 = src.find(':') != std::string::npos;
        return std::string(v6 ? "-f ipv6" : "-f ipv4") + " -p " + proto + " -s " + src + " -d " +
               dst + " --dport " + std::to_string(dport);
    }
};

// tcp as ESTABLISHED and replied, udp as a first datagram: what a client that got in leaves.
void insert(const Entry& e) {
    const std::string state = e.proto == "tcp" ? " --state ESTABLISHED -u SEEN_REPLY" : "";
    INFO("conntrack -I " << e.filter());
    REQUIRE(test::run("conntrack -I -p " + e.proto + " -s " + e.src + " -d " + e.dst +
                      " --sport 40000 --dport " + std::to_string(e.dport) + state +
                      " -t 300 2>/dev/null") == 0);
}

// How many entries `conntrack -L` lists for `filter`.
std::size_t listed(const std::string& filter) {
    return std::stoul(test::capture("conntrack -L " + filter + " 2>/dev/null | grep -c src="));
}

std::vector<std::string> texts(const std::vector<memguard::Network>& networks) {
    std::vector<std::string> out;
    for (const auto& n : networks) {
        out.push_back(n.to_string());
    }
    return out;
}

// The policy of these tests: two guarded ports, one allowed network per family.
memguard::Policy policy() {
    memguard::Policy p;
    p.guards[0].ports = {11211, 11213};
    p.guards[0].protocols = {Protocol::tcp, Protocol::udp};
    p.guards[0].allow = {test::net("192.168.7.0/24"), test::net("fd10::/64")};
    p.allow_loopback = true;
    return p;
}

} // namespace

TEST_CASE("netns addresses: local_addresses lists this namespace's addresses",
          "[netns][addresses]") {
    const TestLink link;
    const auto addresses = memguard::netlink::local_addresses();
    const auto has = [&](const char* text) {
        return std::find(addresses.begin(), addresses.end(), test::net(text)) != addresses.end();
    };
    CHECK(has("127.0.0.1"));
    CHECK(has("::1"));
    CHECK(has("10.9.0.1"));
    CHECK(has("fd09::1"));
    CHECK(has("10.9.2.1"));
    CHECK(!has("10.9.2.2")); // the point-to-point peer is not ours
    CHECK(std::is_sorted(addresses.begin(), addresses.end()));
    CHECK(std::adjacent_find(addresses.begin(), addresses.end()) == addresses.end());
    for (const auto& a : addresses) {
        CHECK(a.prefix == a.max_prefix());
    }
}

TEST_CASE("netns sweep: cuts exactly the unallowed sources' entries to the guarded ports",
          "[netns][conntrack][sweep]") {
    fresh_conntrack();
    const TestLink link;
    const std::vector<Entry> entries{
        {"tcp", "10.9.0.5", "10.9.0.1", 11211, true}, // not allowed
        {"udp", "10.9.0.5", "10.9.0.1", 11211, true}, // not allowed, udp
        {"tcp", "10.9.0.6", "10.9.0.1", 11211, true}, // another source
        {"tcp", "10.9.0.8", "10.9.0.1", 11213, true}, // the second guarded port
        {"tcp", "fd09::5", "fd09::1", 11211, true},   // IPv6
        {"tcp", "192.168.7.9", "10.9.0.1", 11211},    // allowed
        {"udp", "fd10::9", "fd09::1", 11211},         // allowed, IPv6
        {"tcp", "127.0.0.5", "127.0.0.1", 11211},     // loopback
        {"tcp", "::1", "::1", 11211},                 // loopback, IPv6
        {"tcp", "10.9.0.1", "10.9.0.1", 11211},       // an address of this host
        {"udp", "fd09::1", "fd09::1", 11213},         // an address of this host, IPv6
        {"tcp", "10.9.0.5", "10.9.0.1", 22},          // another port
        {"udp", "10.9.0.7", "10.9.0.1", 11212},       // another port
        {"tcp", "10.9.0.5", "10.9.3.3", 11211},       // routed to another host's memcached
        {"udp", "fd09::5", "fd09::3:3", 11211},       // the same, IPv6
    };
    for (const auto& e : entries) {
        insert(e);
        REQUIRE(listed(e.filter()) == 1);
    }

    const auto result = memguard::sweep_unallowed(policy());
    CHECK(result.deleted == 5);
    CHECK(result.distinct_sources == 4);
    CHECK(texts(result.sources) ==
          std::vector<std::string>{"10.9.0.5", "10.9.0.6", "10.9.0.8", "fd09::5"});
    CHECK(result.filtered); // Linux >= 5.8
    for (const auto& e : entries) {
        INFO(e.filter());
        CHECK(listed(e.filter()) == (e.cut ? 0 : 1));
    }

    // Nothing left to cut: a second sweep deletes nothing.
    const auto again = memguard::sweep_unallowed(policy());
    CHECK(again.deleted == 0);
    CHECK(again.distinct_sources == 0);
    CHECK(again.sources.empty());
}

TEST_CASE("netns sweep: without loopback allowed, local sources are cut too",
          "[netns][conntrack][sweep]") {
    fresh_conntrack();
    const TestLink link;
    const std::vector<Entry> entries{
        {"tcp", "127.0.0.5", "127.0.0.1", 11211, true},
        {"tcp", "10.9.0.1", "10.9.0.1", 11211, true},
        {"tcp", "192.168.7.9", "10.9.0.1", 11211},
    };
    for (const auto& e : entries) {
        insert(e);
    }
    auto p = policy();
    p.allow_loopback = false;
    const auto result = memguard::sweep_unallowed(p);
    CHECK(result.deleted == 2);
    for (const auto& e : entries) {
        INFO(e.filter());
        CHECK(listed(e.filter()) == (e.cut ? 0 : 1));
    }
}

TEST_CASE("netns sweep: many sources, eight of them reported", "[netns][conntrack][sweep]") {
    fresh_conntrack();
    for (int i = 1; i <= 10; ++i) {
        insert({"tcp", "10.9.1." + std::to_string(i), "10.9.0.1", 11211, true});
    }
    const memguard::NetworkIndex none;
    const memguard::NetworkIndex here(std::vector{*memguard::parse_network("10.9.0.1")});
    const auto result = memguard::netlink::sweep({memguard::Family::ipv4, memguard::Family::ipv6},
                                                 {Protocol::tcp}, {11211}, none, none, here);
    CHECK(result.deleted == 10);
    CHECK(result.distinct_sources == 10);
    CHECK(texts(result.sources) == std::vector<std::string>{"10.9.1.1", "10.9.1.2", "10.9.1.3",
                                                            "10.9.1.4", "10.9.1.5", "10.9.1.6",
                                                            "10.9.1.7", "10.9.1.8"});
    CHECK(listed("-p tcp --dport 11211") == 0);
}

TEST_CASE("netns conntrack: the kernel answers a filtered dump with matching entries only",
          "[netns][conntrack][sweep]") {
    fresh_conntrack();
    for (const Entry& e :
         {Entry{"tcp", "10.9.0.5", "10.9.0.1", 11211}, Entry{"udp", "10.9.0.5", "10.9.0.1", 11211},
          Entry{"tcp", "10.9.0.5", "10.9.0.1", 22}, Entry{"tcp", "fd09::5", "fd09::1", 11211}}) {
        insert(e);
    }
    memguard::netlink::Socket socket(memguard::netlink::Bus::netfilter);
    auto request = memguard::netlink::build_conntrack_filtered_dump(memguard::Family::ipv4,
                                                                    Protocol::tcp, 11211);
    std::vector<memguard::netlink::ConntrackTuple> got;
    socket.transact(request, "filtered dump", [&](std::span<const std::uint8_t> message) {
        if (auto t = memguard::netlink::parse_conntrack_message(message)) {
            got.push_back(*t);
        }
    });
    REQUIRE(got.size() == 1);
    CHECK(got[0].source.to_string() == "10.9.0.5");
    CHECK(got[0].protocol() == Protocol::tcp);
    CHECK(got[0].destination_port == 11211);

    // A filter flag the kernel does not know is refused before the dump starts, with one of the
    // errors on which sweep falls back to unfiltered dumps; the socket stays usable.
    const std::uint32_t unknown = 1u << 31;
    std::uint32_t flags = 0;
    std::memcpy(&flags, request.data() + request.size() - sizeof flags, sizeof flags);
    flags |= unknown;
    std::memcpy(request.data() + request.size() - sizeof flags, &flags, sizeof flags);
    try {
        socket.transact(request, "dump with an unknown filter flag");
        FAIL("no error");
    } catch (const memguard::netlink::NetlinkError& e) {
        CHECK((e.error() == EOPNOTSUPP || e.error() == EINVAL));
    }
    auto again = memguard::netlink::build_conntrack_filtered_dump(memguard::Family::ipv6,
                                                                  Protocol::tcp, 11211);
    std::size_t v6 = 0;
    socket.transact(again, "filtered dump (ipv6)",
                    [&](std::span<const std::uint8_t> /*message*/) { ++v6; });
    CHECK(v6 == 1);
}
