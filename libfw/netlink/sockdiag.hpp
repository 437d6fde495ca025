// Which sockets listen on our ports (for `memguardd doctor`): inet_diag dumps over
// NETLINK_SOCK_DIAG, the interface `ss -ltun` uses. A pure parser (bytes → ListeningSocket) and
// the query that talks to the kernel.
#pragma once

#include "net.hpp"
#include "policy.hpp"

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

} // namespace memguard::netlink
