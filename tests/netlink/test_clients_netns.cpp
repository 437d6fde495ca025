// Against the kernel: real clients, real servers. The test's own namespace (netns_main.cpp) is
// the server: python sockets on the guarded ports 11211 (tcp on a dual-stack ::, udp) and 11213
// (tcp on 0.0.0.0), and on 11212, which is not guarded. A second namespace, made here and joined
// by a veth pair, holds the clients, each bound to its own source address; one more client talks
// over loopback. list_clients and print_clients must report exactly what was opened, and agree
// with `ss` and `conntrack -L`.
#include "netns_support.hpp"
#include "support.hpp"

#include "client_groups.hpp"
#include "clients.hpp"
#include "netlink/sockdiag.hpp"
#include "netlink/socket.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using memguard::ClientGroup;
using memguard::ClientVerdict;
using memguard::Network;
using namespace std::chrono_literals;

namespace Catch {
template <> struct StringMaker<ClientGroup> {
    static std::string convert(const ClientGroup& g) {
        std::string out = "{" + g.network.to_string() + " " + std::string(to_string(g.verdict)) +
                          " tcp " + std::to_string(g.tcp) + " udp " + std::to_string(g.udp) + ":";
        for (const auto& c : g.clients) {
            out += " " + c.to_string();
        }
        return out + "}";
    }
};
} // namespace Catch

namespace {

// The servers: they accept and hold every connection, and read every datagram.
const char* const kServers = R"(
import select, socket
def tcp(family, address, port, v6only=None):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind((address, port)); s.listen(64)
    return s
def udp(family, address, port):
    s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((address, port))
    return s
listeners = [tcp(socket.AF_INET6, "::", 11211, 0), tcp(socket.AF_INET, "0.0.0.0", 11213),
             tcp(socket.AF_INET, "0.0.0.0", 11212)]
datagrams = [udp(socket.AF_INET, "0.0.0.0", 11211), udp(socket.AF_INET6, "::", 11211),
             udp(socket.AF_INET, "0.0.0.0", 11212)]
held = []
print("ready", flush=True)
while True:
    ready, _, _ = select.select(listeners + datagrams, [], [])
    for s in ready:
        if s in listeners:
            held.append(s.accept()[0])
        else:
            s.recvfrom(2048)
)";

// The clients, one per argument "tcp|udp,SOURCE,DESTINATION,PORT": tcp connects and holds the
// connection, udp sends one datagram from its socket and keeps it.
const char* const kClients = R"(
import socket, sys, time
held = []
for spec in sys.argv[1:]:
    proto, source, destination, port = spec.split(",")
    family = socket.AF_INET6 if ":" in source else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.bind((source, 0))
    if proto == "tcp":
        s.settimeout(5); s.connect((destination, int(port)))
    else:
        s.sendto(b"stats\r\n", (destination, int(port)))
    held.append(s)
print("ready", flush=True)
time.sleep(300)
)";

// What the clients in the other namespace open, and what loopback opens.
const std::vector<std::string> kRemoteOpens{
    "tcp,10.7.0.5,10.7.0.1,11211",           "tcp,10.7.0.5,10.7.0.1,11211", // twice, dual-stack ::
    "tcp,10.7.0.10,10.7.0.1,11213",          "tcp,fd07::5,fd07::1,11211",
    "tcp,172.20.0.7,172.20.0.1,11213",       "udp,10.7.0.6,10.7.0.1,11211",
    "udp,172.20.0.8,172.20.0.1,11211",       "udp,fd07::6,fd07::1,11211",
    "udp,fd07:0:0:1::9,fd07:0:0:1::1,11211", "tcp,172.20.0.9,172.20.0.1,11212",
    "udp,172.20.0.9,172.20.0.1,11212", // not guarded
};
const std::vector<std::string> kLocalOpens{"tcp,127.0.0.5,127.0.0.1,11211",
                                           "udp,127.0.0.5,127.0.0.1,11211"};

memguard::Policy policy() {
    memguard::Policy p;
    p.guards[0].ports = {11211, 11213};
    p.guards[0].allow = {test::net("10.7.0.8/29"), test::net("10.0.0.0/8"),
                         test::net("fd07:0:0:1::/64")};
    return p;
}

const char* const kConfig = R"({"ports": [11211, 11213],
  "allow": ["10.7.0.8/29", "10.0.0.0/8", "fd07:0:0:1::/64"]})";

ClientGroup client_group(const char* network, ClientVerdict verdict,
                         std::vector<const char*> clients, std::size_t tcp, std::size_t udp) {
    ClientGroup g{test::net(network), verdict, "default", "", {}, tcp, udp};
    for (const char* c : clients) {
        g.clients.push_back(test::net(c));
    }
    return g;
}

// kRemoteOpens and kLocalOpens, judged by policy().
std::vector<ClientGroup> expected() {
    return {
        client_group("172.20.0.0/24", ClientVerdict::blocked, {"172.20.0.7", "172.20.0.8"}, 1, 1),
        client_group("fd07::/64", ClientVerdict::blocked, {"fd07::5", "fd07::6"}, 1, 1),
        client_group("10.0.0.0/8", ClientVerdict::allowed, {"10.7.0.5", "10.7.0.6"}, 2, 1),
        client_group("127.0.0.0/8", ClientVerdict::local, {"127.0.0.5"}, 1, 1),
        client_group("10.7.0.8/29", ClientVerdict::allowed, {"10.7.0.10"}, 1, 0),
        client_group("fd07:0:0:1::/64", ClientVerdict::allowed, {"fd07:0:0:1::9"}, 0, 1),
    };
}

bool link_up(const std::string& prefix) {
    return test::capture(prefix + "ip -o link show 2>/dev/null").find("LOWER_UP") !=
           std::string::npos;
}

// The clients' namespace, held by a `sleep` that `unshare -n` started, joined to ours by a veth
// pair: here mgs0 (10.7.0.1/24, 172.20.0.1/24, fd07::1/64, fd07:0:0:1::1/64), there mgc0 with
// every client address. Deleting mgs0 takes the pair; the namespace goes with its sleep.
class ClientNamespace {
public:
    ClientNamespace() : holder_({"unshare", "-n", "sleep", "600"}) {
        const std::string own = test::capture("readlink /proc/self/ns/net");
        const std::string theirs = "readlink /proc/" + std::to_string(holder_.pid()) + "/ns/net";
        for (int i = 0; i < 100 && (test::capture(theirs).empty() || test::capture(theirs) == own);
             ++i) {
            std::this_thread::sleep_for(20ms);
        }
        REQUIRE(test::capture(theirs) != own);
        there_ = "nsenter -t " + std::to_string(holder_.pid()) + " -n ";
        REQUIRE(test::run("ip link add mgs0 type veth peer name mgc0 netns " +
                          std::to_string(holder_.pid())) == 0);
        REQUIRE(test::run("ip addr add 10.7.0.1/24 dev mgs0 && ip addr add 172.20.0.1/24 dev mgs0 "
                          "&& ip addr add fd07::1/64 dev mgs0 nodad && ip addr add "
                          "fd07:0:0:1::1/64 dev mgs0 nodad && ip link set mgs0 up") == 0);
        std::string client_addresses = there_ + "ip link set lo up";
        for (const char* a : {"10.7.0.5/24", "10.7.0.6/24", "10.7.0.10/24", "172.20.0.7/24",
                              "172.20.0.8/24", "172.20.0.9/24"}) {
            client_addresses += " && " + there_ + "ip addr add " + a + " dev mgc0";
        }
        for (const char* a : {"fd07::5/64", "fd07::6/64", "fd07:0:0:1::9/64"}) {
            client_addresses += " && " + there_ + "ip addr add " + a + " dev mgc0 nodad";
        }
        REQUIRE(test::run(client_addresses + " && " + there_ + "ip link set mgc0 up") == 0);
        for (int i = 0; i < 250 && !(link_up("") && link_up(there_)); ++i) {
            std::this_thread::sleep_for(20ms);
        }
    }
    ClientNamespace(const ClientNamespace&) = delete;
    ClientNamespace& operator=(const ClientNamespace&) = delete;
    ~ClientNamespace() { test::run("ip link del mgs0 2>/dev/null"); }

    // argv that runs `argv` in the clients' namespace.
    [[nodiscard]] std::vector<std::string> in(std::vector<std::string> argv) const {
        argv.insert(argv.begin(), {"nsenter", "-t", std::to_string(holder_.pid()), "-n"});
        return argv;
    }

private:
    test::Child holder_;
    std::string there_;
};

std::vector<std::string> clients(const std::vector<std::string>& opens) {
    auto argv = test::python(kClients);
    argv.insert(argv.end(), opens.begin(), opens.end());
    return argv;
}

// conntrack tracks in a namespace only once a rule there asks for it: one per family.
void track_connections() {
    REQUIRE(
        test::run("iptables-legacy -F && ip6tables-legacy -F && "
                  "iptables-legacy -A INPUT -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT && "
                  "ip6tables-legacy -A INPUT -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT && "
                  "conntrack -F 2>/dev/null && conntrack -F -f ipv6 2>/dev/null") == 0);
}

// Everything running: servers, the clients over the veth, the loopback client.
struct Scene {
    Scene() {
        track_connections();
        REQUIRE(servers.wait_for("ready"));
        CHECK(memguard::list_clients(policy()).empty()); // listeners are not clients
        remote.emplace(ns.in(clients(kRemoteOpens)));
        local.emplace(clients(kLocalOpens));
        REQUIRE(remote->wait_for("ready"));
        REQUIRE(local->wait_for("ready"));
    }
    test::Child servers{test::python(kServers)};
    ClientNamespace ns;
    std::optional<test::Child> remote;
    std::optional<test::Child> local;
};

// list_clients until it reports `wanted` (the servers may still be reading datagrams) or 5 s
// passed; the last answer.
std::vector<ClientGroup> settled(const memguard::Policy& p,
                                 const std::vector<ClientGroup>& wanted) {
    std::vector<ClientGroup> got;
    for (int i = 0; i < 50; ++i) {
        got = memguard::list_clients(p);
        if (got == wanted) {
            break;
        }
        std::this_thread::sleep_for(100ms);
    }
    return got;
}

std::size_t lines_of(const std::string& command) {
    return std::stoul(test::capture(command + " | wc -l"));
}

struct Output {
    int status = -1;
    std::string out;
    std::string err;
};

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// print_clients in a child process (as `uid`), its stdout and stderr in files.
Output print_clients(const std::string& config, bool json, uid_t uid = 0) {
    const std::string out_path = "/tmp/memguard-clients-out." + std::to_string(getpid());
    const std::string err_path = "/tmp/memguard-clients-err." + std::to_string(getpid());
    std::fflush(nullptr);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (out < 0 || err < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0 ||
            (uid != 0 && (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0))) {
            _exit(99);
        }
        const int code = memguard::print_clients(config, json);
        std::cout.flush();
        std::fflush(nullptr);
        _exit(code);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    Output o{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out_path), slurp(err_path)};
    std::remove(out_path.c_str());
    std::remove(err_path.c_str());
    return o;
}

// A config file as load_config accepts it: root's, mode 0600. Removed at the end.
class ConfigFile {
public:
    explicit ConfigFile(const std::string& text) {
        // In a private directory: memguardd refuses a config straight in sticky /tmp.
        std::string dir = "/tmp/memguard-clients-XXXXXX";
        REQUIRE(mkdtemp(dir.data()) != nullptr);
        dir_ = dir;
        path_ = dir + "/memguard.json";
        const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
        close(fd);
    }
    ConfigFile(const ConfigFile&) = delete;
    ConfigFile& operator=(const ConfigFile&) = delete;
    ~ConfigFile() {
        std::remove(path_.c_str());
        std::remove(dir_.c_str());
    }
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string dir_;
    std::string path_;
};

} // namespace

TEST_CASE("netns clients: tcp connections and udp flows from several sources, grouped",
          "[netns][clients]") {
    const Scene scene;
    const auto got = settled(policy(), expected());
    CHECK(got == expected());

    // The oracles: ss counts the tcp connections to the guarded ports, conntrack the udp flows.
    std::size_t tcp = 0;
    std::size_t udp = 0;
    for (const auto& g : got) {
        tcp += g.tcp;
        udp += g.udp;
    }
    CHECK(tcp == lines_of("ss -Htn '( sport = :11211 or sport = :11213 )'"));
    CHECK(udp == lines_of("conntrack -L -f ipv4 -p udp --dport 11211 2>/dev/null") +
                     lines_of("conntrack -L -f ipv6 -p udp --dport 11211 2>/dev/null"));
    CHECK(tcp == 6);
    CHECK(udp == 5);
}

TEST_CASE("netns clients: the kernel runs the port filter of the tcp dump", "[netns][clients]") {
    const Scene scene;
    REQUIRE(settled(policy(), expected()) == expected());
    // IPv4 sockets here: listeners on 11212 and 11213, connections to both; the filtered dump
    // for 11213 must answer with its two connections and nothing else.
    memguard::netlink::Socket socket(memguard::netlink::Bus::sock_diag);
    auto request = memguard::netlink::build_tcp_connections_dump(memguard::Family::ipv4, 11213);
    std::vector<std::string> peers;
    socket.transact(request, "dump", [&](std::span<const std::uint8_t> message) {
        const auto c = memguard::netlink::parse_tcp_connection_message(message);
        peers.push_back(c ? c->remote.to_string() + " -> " + std::to_string(c->local_port)
                          : "(not a connection)");
    });
    std::sort(peers.begin(), peers.end());
    CHECK(peers == std::vector<std::string>{"10.7.0.10 -> 11213", "172.20.0.7 -> 11213"});
}

TEST_CASE("netns clients: only the config's protocols are asked about", "[netns][clients]") {
    const Scene scene;
    auto p = policy();
    p.guards[0].protocols = {memguard::Protocol::tcp};
    const std::vector<ClientGroup> wanted{
        client_group("172.20.0.0/24", ClientVerdict::blocked, {"172.20.0.7"}, 1, 0),
        client_group("fd07::/64", ClientVerdict::blocked, {"fd07::5"}, 1, 0),
        client_group("10.0.0.0/8", ClientVerdict::allowed, {"10.7.0.5"}, 2, 0),
        client_group("10.7.0.8/29", ClientVerdict::allowed, {"10.7.0.10"}, 1, 0),
        client_group("127.0.0.0/8", ClientVerdict::local, {"127.0.0.5"}, 1, 0),
    };
    CHECK(settled(p, wanted) == wanted);
}

TEST_CASE("netns clients: print_clients as JSON and as a table", "[netns][clients]") {
    const Scene scene;
    REQUIRE(settled(policy(), expected()) == expected());
    const ConfigFile config(kConfig);

    const auto json = print_clients(config.path(), true);
    CHECK(json.status == 0);
    CHECK(json.err.empty());
    CHECK(nlohmann::ordered_json::parse(json.out) ==
          memguard::clients_json(policy(), config.path(), expected()));

    const auto text = print_clients(config.path(), false);
    CHECK(text.status == 0);
    CHECK(text.out == memguard::clients_text(policy(), expected()));
    CHECK(text.out.ends_with(
        "\n6 networks, 9 clients; 2 networks (4 clients) would be blocked by the config\n"));
}

TEST_CASE("netns clients: an invalid config is said, and judged as an empty allowlist",
          "[netns][clients]") {
    const Scene scene;
    REQUIRE(settled(policy(), expected()) == expected());
    const ConfigFile config(R"({"ports": [11211, 11213], "allow": ["10.0.0.0/33"]})");
    const auto out = print_clients(config.path(), true);
    CHECK(out.status == 0);
    CHECK(out.err.find("allow[0]") != std::string::npos);
    CHECK(out.err.find("empty allowlist") != std::string::npos);
    const auto json = nlohmann::json::parse(out.out);
    CHECK(json["ports"] == nlohmann::json::array({11211, 11213}));
    std::vector<std::string> groups;
    for (const auto& g : json["groups"]) {
        groups.push_back(g["network"].get<std::string>() + " " + g["verdict"].get<std::string>() +
                         " " + std::to_string(g["clients"].get<int>()));
    }
    CHECK(groups == std::vector<std::string>{"10.7.0.0/24 blocked 3", "172.20.0.0/24 blocked 2",
                                             "fd07::/64 blocked 2", "fd07:0:0:1::/64 blocked 1",
                                             "127.0.0.0/8 local 1"});
}

TEST_CASE("netns clients: not root is an error that says so", "[netns][clients]") {
    const ConfigFile config(kConfig);
    const auto out = print_clients(config.path(), false, 65534);
    CHECK(out.status == 1);
    CHECK(out.out.empty());
    CHECK(out.err.find("(you must be root)") != std::string::npos);
}
