// Against the kernel, inside the namespace netns_main.cpp made: sock_diag finds real listeners,
// ctnetlink revokes real connections, nfnetlink_log delivers real blocked packets.
#include "netns_support.hpp"
#include "support.hpp"

#include "netlink/conntrack.hpp"
#include "netlink/nflog.hpp"
#include "netlink/sockdiag.hpp"
#include "netlink/socket.hpp"

#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <tuple>

using memguard::Family;
using memguard::Protocol;
using memguard::netlink::BlockedPacket;
using memguard::netlink::ListeningSocket;
using memguard::netlink::NetlinkError;
using memguard::netlink::NflogListener;
using namespace std::chrono_literals;

namespace {

// Every test starts from empty tables (the namespace is ours alone).
void flush_tables() {
    REQUIRE(test::run("iptables-legacy -F && iptables-legacy -t raw -F && "
                      "ip6tables-legacy -F && ip6tables-legacy -t raw -F") == 0);
}

std::vector<ListeningSocket> sorted_without_inodes(std::vector<ListeningSocket> v) {
    for (auto& s : v) {
        CHECK(s.inode != 0);
        s.inode = 0;
    }
    std::sort(v.begin(), v.end(), [](const ListeningSocket& a, const ListeningSocket& b) {
        return std::tie(a.family, a.protocol, a.address, a.port) <
               std::tie(b.family, b.protocol, b.address, b.port);
    });
    return v;
}

// Lines of `text` (one per conntrack entry) that contain `word`.
std::size_t count_lines_with(const std::string& text, const std::string& word) {
    std::size_t n = 0;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) {
            end = text.size();
        }
        if (text.substr(start, end - start).find(word) != std::string::npos) {
            ++n;
        }
        start = end + 1;
    }
    return n;
}

// Drains `listener` until `wanted` packets arrived or `timeout` passed.
std::vector<BlockedPacket> collect(NflogListener& listener, std::size_t wanted,
                                   std::chrono::milliseconds timeout = 5s) {
    std::vector<BlockedPacket> got;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got.size() < wanted && std::chrono::steady_clock::now() < deadline) {
        pollfd pfd{listener.fd(), POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0) {
            auto more = listener.drain();
            got.insert(got.end(), more.begin(), more.end());
        }
    }
    return got;
}

} // namespace

TEST_CASE("netns socket: errors carry errno, requests without ACK are refused", "[netns][socket]") {
    memguard::netlink::Socket socket(memguard::netlink::Bus::netfilter);
    CHECK(socket.fd() >= 0);
    CHECK(socket.port_id() != 0);

    memguard::netlink::ConntrackTuple t;
    t.source = test::net("127.0.0.99");
    t.destination = test::net("127.0.0.98");
    t.l4proto = IPPROTO_TCP;
    t.source_port = 1;
    t.destination_port = 2;
    auto request = memguard::netlink::build_conntrack_delete(t);
    try {
        socket.transact(request, "delete a conntrack entry that never was");
        FAIL("no error");
    } catch (const NetlinkError& e) {
        CHECK(e.error() == ENOENT);
        CHECK(std::string(e.what()).find("delete a conntrack entry that never was: ") == 0);
    }
    // The socket is still good for the next request.
    try {
        socket.transact(request, "again");
        FAIL("no error");
    } catch (const NetlinkError& e) {
        CHECK(e.error() == ENOENT);
    }

    auto unacked = request;
    nlmsghdr h{};
    std::memcpy(&h, unacked.data(), sizeof h);
    h.nlmsg_flags = NLM_F_REQUEST;
    std::memcpy(unacked.data(), &h, sizeof h);
    CHECK_THROWS_AS(socket.transact(unacked, "no ack"), std::logic_error);

    memguard::netlink::Socket moved(std::move(socket));
    CHECK(moved.fd() >= 0);
    CHECK(socket.fd() == -1); // NOLINT(bugprone-use-after-move): checking the moved-from state
}

TEST_CASE("netns sockdiag: memcached and python listeners, with families and V6ONLY",
          "[netns][sockdiag]") {
    flush_tables();
    CHECK(memguard::netlink::listening_sockets({11211, 11212}).empty());

    test::Child memcached(
        {"memcached", "-p", "11211", "-U", "11211", "-l", "127.0.0.1", "-u", "nobody"});
    test::Child py(test::python(R"(
import socket, time
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
u6.bind(("::", 11212))
t6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
t6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
t6.bind(("::1", 11212)); t6.listen()
other = socket.socket(); other.bind(("127.0.0.1", 11213)); other.listen()
peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
peer.bind(("127.0.0.3", 11211)); peer.connect(("127.0.0.1", 11214))
print("ready", flush=True)
time.sleep(120)
)"));
    REQUIRE(py.wait_for("ready"));

    // memcached takes a moment to bind; wait for both of its sockets.
    std::vector<ListeningSocket> found;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    do {
        found = memguard::netlink::listening_sockets({11211, 11212});
        if (std::count_if(found.begin(), found.end(),
                          [](const ListeningSocket& s) { return s.port == 11211; }) == 2) {
            break;
        }
        std::this_thread::sleep_for(100ms);
    } while (std::chrono::steady_clock::now() < deadline);

    // An established connection to memcached: its server side (port 11211) is no listener.
    test::Child client(test::python(R"(
import socket, time
c = socket.socket(); c.bind(("127.0.0.9", 0)); c.connect(("127.0.0.1", 11211))
print("ready", flush=True)
time.sleep(120)
)"));
    REQUIRE(client.wait_for("ready"));
    found = memguard::netlink::listening_sockets({11211, 11212});

    const std::vector<ListeningSocket> expected{
        {Family::ipv4, Protocol::tcp, "127.0.0.1", 11211, std::nullopt, false, 0},
        {Family::ipv4, Protocol::udp, "127.0.0.1", 11211, std::nullopt, false, 0},
        {Family::ipv6, Protocol::tcp, "::1", 11212, true, false, 0},
        {Family::ipv6, Protocol::udp, "::", 11212, false, true, 0},
    };
    CHECK(sorted_without_inodes(found) == expected);

    // All ports: the one on 11213 shows up too.
    const auto all = memguard::netlink::listening_sockets({});
    CHECK(std::any_of(all.begin(), all.end(),
                      [](const ListeningSocket& s) { return s.port == 11213; }));
}

TEST_CASE("netns conntrack: the sweep cuts exactly the unallowed sources' real connections",
          "[netns][conntrack]") {
    flush_tables();
    // Conntrack only tracks a namespace's traffic once some rule there needs it.
    REQUIRE(test::run(
                "iptables-legacy -A INPUT -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT && "
                "ip6tables-legacy -A INPUT -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT") == 0);
    test::Child py(test::python(R"(
import socket, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 11211)); srv.listen()
srv6 = socket.socket(socket.AF_INET6); srv6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv6.bind(("::1", 11211)); srv6.listen()
keep = []
for src in ("127.0.0.5", "127.0.0.6"):
    c = socket.socket(); c.bind((src, 0)); c.connect(("127.0.0.1", 11211))
    keep += [c, srv.accept()[0]]
c6 = socket.socket(socket.AF_INET6); c6.connect(("::1", 11211)); keep += [c6, srv6.accept()[0]]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.5", 0))
u.sendto(b"x", ("127.0.0.1", 11211))
print("ready", flush=True)
time.sleep(120)
)"));
    REQUIRE(py.wait_for("ready"));

    const auto list = [](const std::string& filter) {
        return test::capture("conntrack -L " + filter + " 2>/dev/null");
    };
    REQUIRE(count_lines_with(list("-p tcp -s 127.0.0.5 --dport 11211"), "src=127.0.0.5 ") == 1);
    REQUIRE(count_lines_with(list("-p tcp -s 127.0.0.6 --dport 11211"), "src=127.0.0.6 ") == 1);
    REQUIRE(count_lines_with(list("-p udp -s 127.0.0.5 --dport 11211"), "src=127.0.0.5 ") == 1);
    REQUIRE(count_lines_with(list("-f ipv6 -p tcp --dport 11211"), "src=::1 ") == 1);

    // Everything here is loopback: the sweep's `keep` is left empty so that these count.
    const memguard::NetworkIndex none;
    const memguard::NetworkIndex here(std::vector{test::net("127.0.0.0/8"), test::net("::1")});
    const auto sweep = [&](memguard::Family family, std::vector<Protocol> protocols,
                           const std::vector<memguard::Network>& allowed) {
        return memguard::netlink::sweep({family}, protocols, {11211},
                                        memguard::NetworkIndex(allowed), none, here)
            .deleted;
    };
    using memguard::Family;
    CHECK(sweep(Family::ipv4, {Protocol::tcp},
                {test::net("127.0.0.5/32"), test::net("127.0.0.6/32")}) == 0);

    CHECK(sweep(Family::ipv4, {Protocol::tcp}, {test::net("127.0.0.6/32")}) == 1);
    CHECK(count_lines_with(list("-p tcp -s 127.0.0.5 --dport 11211"), "src=127.0.0.5 ") == 0);
    CHECK(count_lines_with(list("-p tcp -s 127.0.0.6 --dport 11211"), "src=127.0.0.6 ") == 1);
    CHECK(count_lines_with(list("-p udp -s 127.0.0.5 --dport 11211"), "src=127.0.0.5 ") == 1);
    CHECK(count_lines_with(list("-f ipv6 -p tcp --dport 11211"), "src=::1 ") == 1);

    CHECK(sweep(Family::ipv4, {Protocol::udp}, {}) == 1);
    CHECK(count_lines_with(list("-p udp -s 127.0.0.5 --dport 11211"), "src=127.0.0.5 ") == 0);
    CHECK(count_lines_with(list("-p tcp -s 127.0.0.6 --dport 11211"), "src=127.0.0.6 ") == 1);

    CHECK(sweep(Family::ipv6, {Protocol::tcp, Protocol::udp}, {}) == 1);
    CHECK(count_lines_with(list("-f ipv6 -p tcp --dport 11211"), "src=::1 ") == 0);
    CHECK(count_lines_with(list("-p tcp -s 127.0.0.6 --dport 11211"), "src=127.0.0.6 ") == 1);
}

TEST_CASE("netns nflog: blocked packets of both families arrive parsed", "[netns][nflog]") {
    flush_tables();
    NflogListener listener(77);
    CHECK(listener.group() == 77);
    REQUIRE(
        test::run("iptables-legacy -A INPUT -p udp --dport 11211 -j NFLOG --nflog-group 77 "
                  "--nflog-prefix memguard && "
                  "iptables-legacy -A INPUT -p tcp --dport 11211 --syn -j NFLOG --nflog-group 77 "
                  "--nflog-prefix memguard && "
                  "ip6tables-legacy -A INPUT -p udp --dport 11211 -j NFLOG --nflog-group 77 "
                  "--nflog-prefix memguard") == 0);
    REQUIRE(test::run(R"(python3 -c '
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", 11211))
socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b"x", ("::1", 11211))
t = socket.socket(); t.settimeout(2)
try:
    t.connect(("127.0.0.1", 11211))
except OSError:
    pass
')") == 0);

    const auto got = collect(listener, 3);
    const auto has = [&](const BlockedPacket& p) {
        return std::find(got.begin(), got.end(), p) != got.end();
    };
    CHECK(has({Family::ipv4, test::net("127.0.0.1"), Protocol::udp, 11211, "lo", "memguard"}));
    CHECK(has({Family::ipv6, test::net("::1"), Protocol::udp, 11211, "lo", "memguard"}));
    CHECK(has({Family::ipv4, test::net("127.0.0.1"), Protocol::tcp, 11211, "lo", "memguard"}));
    CHECK(got.size() == 3);
    CHECK(listener.counters().lost == 0);
    CHECK(listener.counters().unparsed == 0);

    // The group has an owner now: a second bind is refused.
    try {
        NflogListener second(77);
        FAIL("second bind succeeded");
    } catch (const NetlinkError& e) {
        CHECK(e.error() == EPERM);
        CHECK(std::string(e.what()).find("bind nflog group 77") == 0);
    }
}

TEST_CASE("netns nflog: an overrun is counted, and reading goes on", "[netns][nflog]") {
    flush_tables();
    NflogListener::Options options;
    options.receive_buffer = 1; // the kernel's minimum: a burst cannot fit
    options.max_datagrams_per_drain = 100000;
    NflogListener listener(78, options);
    REQUIRE(test::run("iptables-legacy -A INPUT -p udp --dport 11215 -j NFLOG --nflog-group 78") ==
            0);
    const auto send = [](int count) {
        REQUIRE(test::run("python3 -c 'import socket\ns = socket.socket(socket.AF_INET, "
                          "socket.SOCK_DGRAM)\nfor _ in range(" +
                          std::to_string(count) + "): s.sendto(b\"x\", (\"127.0.0.1\", 11215))'") ==
                0);
    };
    send(2000);
    std::size_t received = listener.drain().size();
    CHECK(listener.counters().overruns >= 1);
    // One more packet after the loss: its sequence number reveals every message lost before it.
    send(1);
    received += collect(listener, 1).size();
    CHECK(listener.counters().lost > 0);
    // Sequence gaps count every message the socket dropped; the kernel may also give up on a
    // message before numbering it (it never counts twice), so the sum is at most what was sent.
    const auto accounted = received + listener.counters().lost;
    CHECK(accounted <= 2001);
    CHECK(accounted >= 1990);
}
