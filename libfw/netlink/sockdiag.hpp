// Which sockets listen on our ports (for `memguardd doctor`) and which tcp connections reach them
// (for `memguardd clients`): inet_diag dumps over NETLINK_SOCK_DIAG, the interface `ss -tuna`
// uses. Pure parsers (bytes → ListeningSocket, TcpConnection) and request builder, and the
// queries that talk to the kernel.
#pragma once

#include "net.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace memguard::netlink {

struct ListeningSocket {
    Family family = Family::ipv4;
    Protocol protocol = Protocol::tcp;
    std::string address; // the bound address: "0.0.0.0", "::", "127.0.0.1", "::1"
    std::uint16_t port = 0;
    // IPV6_V6ONLY as the kernel reports it (INET_DIAG_SKV6ONLY); nullopt for IPv4 sockets and
    // when the kernel did not say.
    std::optional<bool> v6only;
    // An IPv6 socket that may also take IPv4 (as ::ffff:a.b.c.d): V6ONLY off, or not reported.
    // Bound to "::", such a socket receives IPv4 traffic to every address of the host.
    bool v6only_unknown_or_dual = false;
    std::uint32_t inode = 0; // matches /proc/<pid>/fd/* → socket:[inode]
    friend bool operator==(const ListeningSocket&, const ListeningSocket&) = default;
};

// One SOCK_DIAG_BY_FAMILY reply message (inet_diag_msg + attributes) from a dump of `protocol`
// sockets → the socket, when it is listening: tcp in state LISTEN; udp bound to a port with no
// remote peer (udp has no listen state). nullopt for other sockets, malformed or unrelated
// messages. Never reads outside `nlmsg`.
std::optional<ListeningSocket> parse_inet_diag_message(std::span<const std::uint8_t> nlmsg,
                                                       Protocol protocol);

// Every listening tcp and udp socket, IPv4 and IPv6, on one of `ports` (all ports when empty).
// Four dumps (AF_INET, AF_INET6 × tcp, udp), each ACKed by its NLMSG_DONE. Throws NetlinkError
// (e.g. ENOENT when the kernel lacks udp_diag).
std::vector<ListeningSocket> listening_sockets(const std::vector<std::uint16_t>& ports);

// One tcp connection to this host, as the socket on our side sees it.
struct TcpConnection {
    // The socket's family. An IPv6 socket that takes IPv4 reports its IPv4 peers as
    // ::ffff:a.b.c.d (RFC 4291 2.5.5.2), and they come in AF_INET6 dumps only.
    Family family = Family::ipv4;
    Network local; // full-length prefix
    std::uint16_t local_port = 0;
    Network remote; // full-length prefix: the client
    std::uint16_t remote_port = 0;
    std::uint8_t state = 0; // TCP_ESTABLISHED, TCP_TIME_WAIT, ... (netinet/tcp.h)
    friend bool operator==(const TcpConnection&, const TcpConnection&) = default;
};

// The tcp states (a mask of 1 << TCP_*) in which a socket has a peer that finished the
// handshake with us: all but LISTEN and CLOSE (no peer), SYN_SENT (we are the one connecting)
// and SYN_RECV (half open: its source may be forged). TIME_WAIT is in: that peer talked to us
// within the last minute.
std::uint32_t connected_tcp_states();

// One SOCK_DIAG_BY_FAMILY reply message of a tcp dump → the connection, when the socket is in
// one of connected_tcp_states() and has a peer (address and port not zero). nullopt for other
// sockets, malformed or unrelated messages. Never reads outside `nlmsg`.
std::optional<TcpConnection> parse_tcp_connection_message(std::span<const std::uint8_t> nlmsg);

// The SOCK_DIAG_BY_FAMILY dump request (NLM_F_DUMP) for the tcp sockets of `family` in
// connected_tcp_states() whose local port is `port`, filtered by the kernel with an
// INET_DIAG_REQ_BYTECODE program: what `ss -tn '( sport = :11211 )'` asks for.
std::vector<std::uint8_t> build_tcp_connections_dump(Family family, std::uint16_t port);

// Every tcp connection to one of `ports`, IPv4 and IPv6: one filtered dump per family and port,
// each ACKed by its NLMSG_DONE. Needs no privilege. Throws NetlinkError.
std::vector<TcpConnection> tcp_connections(const std::vector<std::uint16_t>& ports);

} // namespace memguard::netlink
