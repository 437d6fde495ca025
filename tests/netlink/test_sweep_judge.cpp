// SweepJudge: which conntrack entries the sweep cuts, as the rules would judge the connection's
// first packet. A table of original tuples (and the DNAT bit) → keep or cut.
#include "support.hpp"

#include "sweep.hpp"

#include <netinet/in.h>

#include <string>
#include <vector>

using memguard::GuardSpec;
using memguard::Policy;
using memguard::Protocol;
using memguard::SweepJudge;
using memguard::netlink::ConntrackTuple;

namespace {

// Host 10.0.0.1 / fd99::1 (and the loopback networks); a container behind it at 172.30.0.2.
std::vector<memguard::Network> local() {
    return {test::net("10.0.0.1"), test::net("fd99::1"), test::net("127.0.0.0/8"),
            test::net("::1")};
}

// Guard "cache": tcp+udp 11211 for 10.0.0.10 and fd99::10; guard "pages": tcp 11212 for
// 10.9.0.0/16.
Policy two_guards() {
    GuardSpec cache;
    cache.name = "cache";
    cache.allow = {test::net("10.0.0.10"), test::net("fd99::10")};
    GuardSpec pages;
    pages.name = "pages";
    pages.ports = {11212};
    pages.protocols = {Protocol::tcp};
    pages.allow = {test::net("10.9.0.0/16")};
    Policy p;
    p.guards = {cache, pages};
    return p;
}

ConntrackTuple tuple(const char* src, const char* dst, std::uint8_t proto, std::uint16_t dport,
                     bool dnat) {
    ConntrackTuple t;
    t.source = test::net(src);
    t.destination = test::net(dst);
    t.family = t.source.family;
    t.l4proto = proto;
    t.source_port = 40000;
    t.destination_port = dport;
    t.dnat = dnat;
    return t;
}

struct Row {
    const char* what;
    const char* src;
    const char* dst;
    std::uint8_t proto;
    std::uint16_t dport;
    bool dnat;
    bool cut;
};

constexpr std::uint8_t tcp = IPPROTO_TCP;
constexpr std::uint8_t udp = IPPROTO_UDP;

const std::vector<Row> kRows{
    {"outsider to this host", "10.0.0.5", "10.0.0.1", tcp, 11211, false, true},
    {"allowed client to this host", "10.0.0.10", "10.0.0.1", tcp, 11211, false, false},
    {"outsider, udp, ipv6", "fd99::5", "fd99::1", udp, 11211, false, true},
    {"allowed client, udp, ipv6", "fd99::10", "fd99::1", udp, 11211, false, false},
    {"outsider DNATed from this host's address", "10.0.0.5", "10.0.0.1", tcp, 11211, true, true},
    {"outsider DNATed from an anycast address", "fd99::5", "2001:db8:2::", tcp, 11211, true, true},
    {"outsider DNATed from the broadcast", "10.0.0.5", "255.255.255.255", udp, 11211, true, true},
    {"outsider DNATed from a routed-through address", "10.0.0.5", "192.0.2.7", udp, 11211, true,
     true},
    {"allowed client DNATed from an anycast address", "fd99::10", "2001:db8:2::", tcp, 11211, true,
     false},
    {"allowed client DNATed from a routed-through address", "10.0.0.10", "192.0.2.7", udp, 11211,
     true, false},
    {"outsider routed through, no DNAT", "10.0.0.5", "192.0.2.7", tcp, 11211, false, false},
    {"outsider to an unguarded port", "10.0.0.5", "10.0.0.1", tcp, 11300, false, false},
    {"outsider DNATed from an unguarded port", "10.0.0.5", "192.0.2.7", tcp, 11300, true, false},
    {"outsider, udp to a port guarded for tcp only", "10.9.1.1", "10.0.0.1", udp, 11212, false,
     false},
    {"another guard's client on cache's port", "10.9.1.1", "10.0.0.1", tcp, 11211, false, true},
    {"pages' client on its own port, DNATed", "10.9.1.1", "192.0.2.7", tcp, 11212, true, false},
    {"cache's client on pages' port", "10.0.0.10", "10.0.0.1", tcp, 11212, false, true},
    {"loopback", "127.0.0.1", "127.0.0.1", tcp, 11211, false, false},
    {"this host's own address as source", "10.0.0.1", "10.0.0.1", udp, 11211, false, false},
    {"icmp", "10.0.0.5", "10.0.0.1", IPPROTO_ICMP, 0, false, false},
};

} // namespace

TEST_CASE("sweep judge: keep or cut, as the rules judge the first packet", "[sweep]") {
    const auto locals = local();
    const SweepJudge judge(two_guards(), locals);
    for (const Row& row : kRows) {
        INFO(row.what);
        CHECK(judge.refuses(tuple(row.src, row.dst, row.proto, row.dport, row.dnat)) == row.cut);
    }
}

TEST_CASE("sweep judge: without allow_loopback, local sources are judged too", "[sweep]") {
    Policy p = two_guards();
    p.allow_loopback = false;
    const auto locals = local();
    const SweepJudge judge(p, locals);
    CHECK(judge.refuses(tuple("127.0.0.1", "127.0.0.1", tcp, 11211, false)));
    CHECK(judge.refuses(tuple("10.0.0.1", "10.0.0.1", udp, 11211, false)));
    CHECK_FALSE(judge.refuses(tuple("10.0.0.10", "10.0.0.1", udp, 11211, false)));
}
