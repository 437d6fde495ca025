// This host's own addresses (to tell locally made connections from others): one RTM_GETADDR
// dump over NETLINK_ROUTE, the interface `ip -o addr` uses. A pure parser (bytes → address) and
// the query that talks to the kernel.
#pragma once

#include "net.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace memguard::netlink {

// One RTM_NEWADDR message (ifaddrmsg + attributes) → the interface's own address as a
// full-length prefix. IFA_LOCAL is preferred over IFA_ADDRESS: on a point-to-point link the
// kernel puts the peer's address in IFA_ADDRESS and ours in IFA_LOCAL (inet_fill_ifaddr, and
// inet6_fill_ifaddr for an IPv6 address with a peer). nullopt for malformed or unrelated
// messages (another type, another family, an address of the wrong size, none at all). Never
// reads outside `nlmsg`; the bytes need no particular alignment.
std::optional<Network> parse_address_message(std::span<const std::uint8_t> nlmsg);

// Every address configured on an interface of this network namespace, IPv4 and IPv6, sorted,
// each once. Throws NetlinkError.
std::vector<Network> local_addresses();

} // namespace memguard::netlink
