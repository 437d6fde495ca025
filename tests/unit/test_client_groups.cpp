// group_clients: contacts → groups by allowlist entry, /24 or /64, or local; unmapped.
#include "support.hpp"

#include "client_groups.hpp"

#include <string>
#include <vector>

using memguard::ClientGroup;
using memguard::ClientVerdict;
using memguard::Contact;
using memguard::group_clients;
using memguard::Network;
using memguard::Protocol;
using unit::net;

namespace {

Contact tcp(const char* client) {
    return {net(client), Protocol::tcp, 11211};
}
Contact udp(const char* client) {
    return {net(client), Protocol::udp, 11211};
}

// This host: loopback and two addresses of its own, as local_sources() gives them.
const std::vector<Network>& here() {
    static const std::vector<Network> local{net("127.0.0.0/8"), net("::1"), net("127.0.0.1"),
                                            net("10.7.0.1"), net("fd07::1")};
    return local;
}

memguard::Policy allowing(std::vector<Network> allow) {
    memguard::Policy p;
    p.guards[0].allow = std::move(allow);
    return p;
}

// One line per group, for comparisons that print well.
std::vector<std::string> lines(const std::vector<ClientGroup>& groups) {
    std::vector<std::string> out;
    for (const auto& g : groups) {
        std::string line = g.network.to_string() + " " + std::string(to_string(g.verdict)) +
                           " tcp " + std::to_string(g.tcp) + " udp " + std::to_string(g.udp) + ":";
        for (const auto& c : g.clients) {
            line += " " + c.to_string();
        }
        out.push_back(line);
    }
    return out;
}

} // namespace

TEST_CASE("clients: allowed clients go under the narrowest allowlist entry that holds them") {
    const auto policy = allowing({net("10.0.0.0/8"), net("10.20.0.8/29"), net("10.20.0.0/16"),
                                  net("fd12::/16"), net("fd12:0:0:1::/64")});
    const std::vector<Contact> contacts{tcp("10.20.0.9"), tcp("10.20.0.9"),      udp("10.20.0.9"),
                                        tcp("10.20.1.1"), tcp("10.99.0.1"),      udp("10.99.0.2"),
                                        tcp("fd12::5"),   tcp("fd12:0:0:1::77"), udp("10.20.0.14")};
    CHECK(lines(group_clients(contacts, policy, here())) ==
          std::vector<std::string>{
              "10.20.0.8/29 allowed tcp 2 udp 2: 10.20.0.9 10.20.0.14",
              "10.0.0.0/8 allowed tcp 1 udp 1: 10.99.0.1 10.99.0.2",
              "10.20.0.0/16 allowed tcp 1 udp 0: 10.20.1.1",
              "fd12::/16 allowed tcp 1 udp 0: fd12::5",
              "fd12:0:0:1::/64 allowed tcp 1 udp 0: fd12:0:0:1::77",
          });
}

TEST_CASE("clients: the others go under their /24 or /64, listed first") {
    const auto policy = allowing({net("192.168.1.0/24")});
    const std::vector<Contact> contacts{
        tcp("192.168.1.10"),    tcp("192.168.1.11"),         tcp("192.168.1.12"),
        tcp("203.0.113.7"),     udp("203.0.113.200"),        tcp("198.51.100.1"),
        tcp("2001:db8:1:2::5"), udp("2001:db8:1:2:ffff::9"), tcp("2001:db8:1:3::5")};
    CHECK(lines(group_clients(contacts, policy, here())) ==
          std::vector<std::string>{
              "203.0.113.0/24 blocked tcp 1 udp 1: 203.0.113.7 203.0.113.200",
              "2001:db8:1:2::/64 blocked tcp 1 udp 1: 2001:db8:1:2::5 2001:db8:1:2:ffff::9",
              "198.51.100.0/24 blocked tcp 1 udp 0: 198.51.100.1",
              "2001:db8:1:3::/64 blocked tcp 1 udp 0: 2001:db8:1:3::5",
              "192.168.1.0/24 allowed tcp 3 udp 0: 192.168.1.10 192.168.1.11 192.168.1.12",
          });
}

TEST_CASE("clients: an IPv4 peer of a dual-stack socket counts as its IPv4 address") {
    CHECK(memguard::unmapped(net("::ffff:10.20.0.9")) == net("10.20.0.9"));
    CHECK(memguard::unmapped(net("::ffff:127.0.0.5")) == net("127.0.0.5"));
    CHECK(memguard::unmapped(net("10.20.0.9")) == net("10.20.0.9"));
    CHECK(memguard::unmapped(net("fd12::ffff:a14:9")) == net("fd12::ffff:a14:9"));
    CHECK(memguard::unmapped(net("::a14:9")) == net("::a14:9")); // IPv4-compatible: not mapped
    CHECK(memguard::unmapped(net("::ffff:0:0/96")) == net("::ffff:0:0/96")); // not an address

    const auto policy = allowing({net("10.20.0.0/16"), net("::ffff:10.0.0.0/104")});
    const std::vector<Contact> contacts{tcp("::ffff:10.20.0.9"), tcp("10.20.0.9"), udp("10.20.0.9"),
                                        tcp("::ffff:10.30.0.1"), tcp("::ffff:127.0.0.5")};
    // The mapped allowlist entry never matches (ip6tables never sees these packets).
    CHECK(lines(group_clients(contacts, policy, here())) ==
          std::vector<std::string>{
              "10.30.0.0/24 blocked tcp 1 udp 0: 10.30.0.1",
              "10.20.0.0/16 allowed tcp 2 udp 1: 10.20.0.9",
              "127.0.0.0/8 local tcp 1 udp 0: 127.0.0.5",
          });
}

TEST_CASE("clients: loopback and the host's own addresses are local while the lo rule is on") {
    auto policy = allowing({net("10.7.0.0/24")});
    const std::vector<Contact> contacts{tcp("127.0.0.1"), tcp("127.0.0.5"), udp("127.0.0.5"),
                                        tcp("::1"),       tcp("10.7.0.1"),  tcp("fd07::1"),
                                        tcp("10.7.0.2"),  tcp("fd07::2")};
    CHECK(lines(group_clients(contacts, policy, here())) ==
          std::vector<std::string>{
              "fd07::/64 blocked tcp 1 udp 0: fd07::2",
              "127.0.0.0/8 local tcp 2 udp 1: 127.0.0.1 127.0.0.5",
              "10.7.0.0/24 allowed tcp 1 udp 0: 10.7.0.2",
              "10.7.0.1 local tcp 1 udp 0: 10.7.0.1",
              "::1 local tcp 1 udp 0: ::1",
              "fd07::1 local tcp 1 udp 0: fd07::1",
          });

    // Without it, they are judged like anybody else.
    policy.allow_loopback = false;
    CHECK(lines(group_clients(contacts, policy, here())) ==
          std::vector<std::string>{
              "127.0.0.0/24 blocked tcp 2 udp 1: 127.0.0.1 127.0.0.5",
              "fd07::/64 blocked tcp 2 udp 0: fd07::1 fd07::2",
              "::/64 blocked tcp 1 udp 0: ::1",
              "10.7.0.0/24 allowed tcp 2 udp 0: 10.7.0.1 10.7.0.2",
          });
}

TEST_CASE("clients: order is blocked first, then by clients, then by contacts, then network") {
    const auto policy = allowing({net("10.1.0.0/24"), net("10.2.0.0/24"), net("10.3.0.0/24")});
    const std::vector<Contact> contacts{tcp("10.3.0.1"),   tcp("10.3.0.2"),   tcp("10.2.0.1"),
                                        tcp("10.2.0.1"),   tcp("10.1.0.1"),   tcp("172.16.0.1"),
                                        tcp("172.16.9.1"), tcp("172.16.9.1"), tcp("172.16.5.1")};
    const auto groups = group_clients(contacts, policy, here());
    std::vector<std::string> order;
    for (const auto& g : groups) {
        order.push_back(g.network.to_string());
    }
    CHECK(order == std::vector<std::string>{"172.16.9.0/24", "172.16.0.0/24", "172.16.5.0/24",
                                            "10.3.0.0/24", "10.2.0.0/24", "10.1.0.0/24"});
    CHECK(groups.front().verdict == ClientVerdict::blocked);
    CHECK(groups.back().verdict == ClientVerdict::allowed);
}

TEST_CASE("clients: nobody talking gives no groups") {
    CHECK(group_clients({}, allowing({net("10.0.0.0/8")}), here()).empty());
}

TEST_CASE("clients: verdicts by name") {
    CHECK(memguard::to_string(ClientVerdict::blocked) == "blocked");
    CHECK(memguard::to_string(ClientVerdict::allowed) == "allowed");
    CHECK(memguard::to_string(ClientVerdict::local) == "local");
}

TEST_CASE("client groups: each port is judged by its own guard's allowlist, labels shown") {
    memguard::Policy p = allowing({net("10.1.0.0/16")});
    p.guards[0].name = "app-cache";
    p.guards[0].labels.emplace(net("10.1.0.0/16"), "web tier");
    memguard::GuardSpec pages;
    pages.name = "pages";
    pages.ports = {11212};
    pages.protocols = {Protocol::tcp};
    pages.allow = {net("10.3.0.0/24")};
    p.guards.push_back(pages);
    const std::vector<Contact> contacts{tcp("10.1.0.5"),
                                        {net("10.1.0.5"), Protocol::tcp, 11212},
                                        {net("10.3.0.9"), Protocol::tcp, 11212},
                                        {net("10.3.0.9"), Protocol::udp, 11212}}; // no guard
    const auto groups = memguard::group_clients(contacts, p, here());
    REQUIRE(groups.size() == 3);
    CHECK(groups[0].verdict == ClientVerdict::blocked); // 10.1.0.5 on the pages port
    CHECK(groups[0].guard == "pages");
    CHECK(groups[0].network == net("10.1.0.0/24"));
    const auto allowed_in = [&](const std::string& guard) {
        return std::ranges::find_if(groups, [&](const ClientGroup& g) {
            return g.guard == guard && g.verdict == ClientVerdict::allowed;
        });
    };
    REQUIRE(allowed_in("app-cache") != groups.end());
    CHECK(allowed_in("app-cache")->label == "web tier");
    REQUIRE(allowed_in("pages") != groups.end());
    CHECK(allowed_in("pages")->network == net("10.3.0.0/24"));
    CHECK(allowed_in("pages")->label.empty());
    CHECK(allowed_in("pages")->udp == 0); // udp to 11212 is no guard's
}
