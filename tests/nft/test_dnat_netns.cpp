// Real packets on the paths the input chain never sees:
// - A DNAT to another port, with two guards: judged by the guard of the port asked for.
// - DNAT, as `docker run -p 11211:11211` sets it up: the host (this test's namespace) DNATs its
//   port 11211 in nat prerouting to a "container" namespace and forwards; a client namespace
//   outside the allowlist must not get through, an allowed one must, tcp and udp, v4 and v6.
// - A forged source: a client adds an allowed address to its own veth and sends udp from it.
//   The strict reverse-path rule drops it; without the rule it arrives.
#include "nft_topology.hpp"

using memguard::Family;
using memguard::nft::Keeper;

namespace {

// Docker's DNAT, one table per family (nft spelling of its `-t nat -A DOCKER ... -j DNAT`).
constexpr const char* kDnat = R"(nft -f - <<'EOF'
table ip nat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        tcp dport 11211 dnat to 172.31.0.2
        udp dport 11211 dnat to 172.31.0.2
    }
}
table ip6 nat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        tcp dport 11211 dnat to fd31::2
        udp dport 11211 dnat to fd31::2
    }
}
EOF
)";

// This namespace forwards; the client (10.9.0.2 and .4, fd09::2 and ::4) reaches it at
// 10.9.0.1 / fd09::1, the container (172.31.0.2, fd31::2) routes through it.
void link_up(const test::Peer& client, const test::Peer& container) {
    REQUIRE(test::run("sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1") == 0);
    REQUIRE(test::run("ip addr add 10.9.0.1/24 dev c0 && ip addr add fd09::1/64 dev c0 nodad && "
                      "ip addr add 172.31.0.1/24 dev k0 && ip addr add fd31::1/64 dev k0 nodad") ==
            0);
    REQUIRE(client.in("ip addr add 10.9.0.2/24 dev c1 && ip addr add 10.9.0.4/24 dev c1 && "
                      "ip addr add fd09::2/64 dev c1 nodad && "
                      "ip addr add fd09::4/64 dev c1 nodad") == 0);
    REQUIRE(container.in("ip addr add 172.31.0.2/24 dev k1 && ip addr add fd31::2/64 dev k1 "
                         "nodad && ip route add default via 172.31.0.1 && "
                         "ip -6 route add default via fd31::1") == 0);
}

memguard::Desired allowing(const std::string& four, const std::string& six) {
    return test::one_guard({four, six}, {memguard::Protocol::udp});
}

// What the closing rules (the tcp drop and the catch-all) counted.
std::uint64_t drops(const memguard::nft::Snapshot& snap, const std::string& guard) {
    REQUIRE(snap.main);
    std::uint64_t n = 0;
    for (const auto& r : snap.main->chain(guard)->rules) {
        n += r.blocks && r.matches <= 1 ? r.packets : 0;
    }
    return n;
}

} // namespace

TEST_CASE("a DNATed port is closed to sources outside the allowlist", "[netns][nft]") {
    test::fresh_netns();
    const test::Peer client("c0", "c1");
    const test::Peer container("k0", "k1");
    link_up(client, container);
    REQUIRE(test::run(kDnat) == 0);
    test::Child listener(container.argv({"python3", "-u", "-c", test::kListener}));
    REQUIRE(listener.wait_for("ready"));
    // Nothing listens on the host: an answer came through the DNAT. (Right after the links come
    // up, IPv6 neighbour discovery may take a moment: a few tries.)
    const auto eventually_open = [&](const char* proto, const char* source, const char* dest) {
        for (int i = 0; i < 5; ++i) {
            if (client.probe(proto, source, dest) == "open") {
                return true;
            }
        }
        return false;
    };
    for (const char* proto : {"tcp", "udp"}) {
        CHECK(eventually_open(proto, "10.9.0.4", "10.9.0.1"));
        CHECK(eventually_open(proto, "fd09::4", "fd09::1"));
    }

    Keeper keeper;
    REQUIRE(keeper.reconcile(allowing("10.9.0.2/32", "fd09::2/128"), false).committed);
    for (const char* proto : {"tcp", "udp"}) {
        INFO(proto);
        CHECK(client.probe(proto, "10.9.0.2", "10.9.0.1") == "open");
        CHECK(client.probe(proto, "10.9.0.4", "10.9.0.1") == "closed");
        CHECK(client.probe(proto, "fd09::2", "fd09::1") == "open");
        CHECK(client.probe(proto, "fd09::4", "fd09::1") == "closed");
    }
    // Dropped in prerouting, by the guard chains' drop rule (the input chain never sees them).
    const auto snap = keeper.read();
    CHECK(drops(snap, "guard4") > 0);
    CHECK(drops(snap, "guard6") > 0);
    // The container's own address is not this host's: forwarded traffic to it is left alone.
    CHECK(client.in("ip route add 172.31.0.0/24 via 10.9.0.1") == 0);
    CHECK(client.probe("udp", "10.9.0.4", "172.31.0.2") == "open");
}

TEST_CASE("two guards: a DNAT to another port is judged by the guard of the port asked for",
          "[netns][nft]") {
    test::fresh_netns();
    const test::Peer client("c0", "c1");
    const test::Peer container("k0", "k1");
    link_up(client, container);
    // `docker run -p 11212:11211`: the second memcached listens on 11211 in its container.
    REQUIRE(test::run("nft add table ip nat && nft add chain ip nat prerouting '{ type nat hook "
                      "prerouting priority dstnat; }' && nft add rule ip nat prerouting tcp "
                      "dport 11212 dnat to 172.31.0.2:11211") == 0);
    test::Child listener(container.argv({"python3", "-u", "-c", test::kListener}));
    REQUIRE(listener.wait_for("ready"));
    const auto desired = test::desired_of(
        {test::guard("cache", {11211}, {memguard::Protocol::tcp}, {"10.9.0.4/32"}),
         test::guard("pages", {11212}, {memguard::Protocol::tcp}, {"10.9.0.2/32"})});
    Keeper keeper;
    REQUIRE(keeper.reconcile(desired, false).committed);
    // pages' client through pages' port, although the packet's port is 11211 after the DNAT;
    // cache's client is not pages'.
    bool open = false;
    for (int i = 0; i < 5 && !open; ++i) { // neighbour discovery may take a moment
        open = client.probe("tcp", "10.9.0.2", "10.9.0.1", 11212) == "open";
    }
    CHECK(open);
    CHECK(client.probe("tcp", "10.9.0.4", "10.9.0.1", 11212) == "closed");
}

TEST_CASE("a forged allowed source is dropped by the reverse-path rule", "[netns][nft]") {
    test::fresh_netns();
    test::no_kernel_rp_filter();
    // The allowed client lives behind t0; the outsider behind o0 claims its address.
    const test::Peer trusted("t0", "t1");
    const test::Peer outsider("o0", "o1");
    REQUIRE(test::run("ip addr add 192.168.1.1/24 dev t0 && ip addr add fd01::1/64 dev t0 nodad "
                      "&& ip addr add 10.9.0.1/24 dev o0 && ip addr add fd09::1/64 dev o0 "
                      "nodad") == 0);
    REQUIRE(trusted.in("ip addr add 192.168.1.10/24 dev t1 && "
                       "ip addr add fd01::10/64 dev t1 nodad") == 0);
    REQUIRE(outsider.in("ip addr add 10.9.0.4/24 dev o1 && ip addr add fd09::4/64 dev o1 nodad "
                        "&& ip addr add 192.168.1.10/32 dev o1 && "
                        "ip addr add fd01::10/128 dev o1 nodad") == 0);
    test::Child listener(test::python(test::kListener));
    REQUIRE(listener.wait_for("ready"));

    // Whether the listener printed one more "got SOURCE" line after the outsider's datagram.
    const auto forged_arrives = [&](Family f) {
        const bool four = f == Family::ipv4;
        const std::string line = four ? "got 192.168.1.10\n" : "got fd01::10\n";
        const auto count = [&] {
            listener.wait_for("(never printed)", std::chrono::milliseconds(300)); // reads it all
            std::size_t n = 0;
            for (auto at = listener.output().find(line); at != std::string::npos;
                 at = listener.output().find(line, at + 1)) {
                ++n;
            }
            return n;
        };
        const std::size_t before = count();
        // No answer either way: the host would send it to the real owner, behind t0.
        CHECK(outsider.probe("udp", four ? "192.168.1.10" : "fd01::10",
                             four ? "10.9.0.1" : "fd09::1") == "closed");
        return count() > before;
    };
    Keeper keeper;
    auto desired = allowing("192.168.1.10/32", "fd01::10/128");
    REQUIRE(keeper.reconcile(desired, false).committed);
    for (const Family f : {Family::ipv4, Family::ipv6}) {
        INFO(memguard::to_string(f));
        CHECK_FALSE(forged_arrives(f));
    }
    // The real one passes, over its own link; the outsider's own address is dropped as before.
    CHECK(trusted.probe("udp", "192.168.1.10", "192.168.1.1") == "open");
    CHECK(trusted.probe("udp", "fd01::10", "fd01::1") == "open");
    CHECK(outsider.probe("udp", "10.9.0.4", "10.9.0.1") == "closed");
    const auto snap = keeper.read();
    REQUIRE(snap.main);
    CHECK(snap.main->chain("guard4")->rules[1].packets > 0); // the reverse-path rule's counter

    desired.ipv4.guards[0].reverse_path.clear();
    desired.ipv6.guards[0].reverse_path.clear();
    REQUIRE(keeper.reconcile(desired, false).committed);
    for (const Family f : {Family::ipv4, Family::ipv6}) {
        INFO(memguard::to_string(f));
        CHECK(forged_arrives(f));
    }
}
