// Namespaces for traffic tests: the test's own namespace is the host (where the Keeper runs);
// each Peer is a further namespace (an `unshare -n sleep` child) joined to the host by a veth
// pair. Everything lives in namespaces the test made and goes away with them.
#pragma once

#include "nft_netns.hpp"

#include <sys/stat.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace test {

inline ino_t netns_inode(const std::string& pid) {
    struct stat st {};
    return stat(("/proc/" + pid + "/ns/net").c_str(), &st) == 0 ? st.st_ino : 0;
}

// Python in a peer: probe PROTO SOURCE DEST sends from SOURCE to DEST port 11211 and prints
// "open" (tcp connected, udp answered) or "closed" within a second.
inline constexpr const char* kProbe = R"(import socket, sys
proto, src, dst, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if proto == 'tcp' else socket.SOCK_DGRAM)
s.settimeout(1)
s.bind((src, 0))
if proto == 'tcp':
    print('open' if s.connect_ex((dst, port)) == 0 else 'closed')
else:
    s.sendto(b'ping', (dst, port))
    try:
        s.recvfrom(64)
        print('open')
    except OSError:
        print('closed')
)";

// Python: tcp and udp 11211 on every address, both families; answers each datagram with
// "pong" and prints "got SOURCE" for it.
inline constexpr const char* kListener = R"(import select, socket
t = socket.socket(socket.AF_INET6)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
t.bind(('::', 11211))
t.listen(16)
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
u.bind(('::', 11211))
print('ready', flush=True)
while True:
    for s in select.select([t, u], [], [])[0]:
        if s is t:
            t.accept()[0].close()
        else:
            data, peer = u.recvfrom(64)
            u.sendto(b'pong', peer)
            print('got', peer[0].removeprefix('::ffff:'), flush=True)
)";

class Peer {
public:
    // A namespace with lo up, linked to the host by veth `host_if` (here) — `peer_if` (there).
    Peer(const std::string& host_if, const std::string& peer_if)
        : sleeper_({"unshare", "-n", "sleep", "300"}), pid_(std::to_string(sleeper_.pid())) {
        for (int i = 0; i < 100 && netns_inode(pid_) == netns_inode("self"); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        REQUIRE(netns_inode(pid_) != netns_inode("self"));
        REQUIRE(run("ip link add " + host_if + " type veth peer name " + peer_if + " netns " +
                    ns()) == 0);
        REQUIRE(run("ip link set " + host_if + " up") == 0);
        REQUIRE(in("ip link set lo up && ip link set " + peer_if + " up") == 0);
    }

    [[nodiscard]] std::string ns() const { return "/proc/" + pid_ + "/ns/net"; }
    // Runs a shell command in the peer; its exit status.
    int in(const std::string& command) const {
        return run("nsenter --net=" + ns() + " sh -c '" + command + "'");
    }
    [[nodiscard]] std::vector<std::string> argv(std::vector<std::string> rest) const {
        rest.insert(rest.begin(), {"nsenter", "--net=" + ns()});
        return rest;
    }
    // "open" or "closed": PROTO from SOURCE (an address of the peer's) to DEST:PORT.
    [[nodiscard]] std::string probe(const std::string& proto, const std::string& source,
                                    const std::string& dest, std::uint16_t port = 11211) const {
        Child c(argv({"python3", "-u", "-c", kProbe, proto, source, dest, std::to_string(port)}));
        c.wait_for("\n", std::chrono::seconds(5));
        return c.output().substr(0, c.output().find('\n'));
    }

private:
    Child sleeper_;
    std::string pid_;
};

// Turns off the kernel's own reverse-path filter in this namespace: only our rule filters.
inline void no_kernel_rp_filter() {
    REQUIRE(run("sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0") == 0);
}

} // namespace test
