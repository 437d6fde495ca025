// `memguardd clients`: who talks to the guarded ports, grouped as the allowlist judges them, so
// that an admin writes the allowlist from facts. The grouping is pure; list_clients asks the
// kernel.
#pragma once

#include "contacts.hpp"
#include "net.hpp"
#include "policy.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace memguard {

enum class ClientVerdict : std::uint8_t {
    blocked, // the config would drop (or reject) this client's packets
    allowed, // an allowlist entry lets it in
    local,   // loopback or this host's own address: the -i lo rule lets it in
};

// "blocked", "allowed", "local".
std::string_view to_string(ClientVerdict v);

struct ClientGroup {
    // allowed: the narrowest allowlist entry that holds the clients; blocked: their /24 (IPv4)
    // or /64 (IPv6); local: 127.0.0.0/8, or the address itself (::1, the host's own addresses).
    Network network;
    ClientVerdict verdict = ClientVerdict::blocked;
    std::string guard;            // the guard of the ports they talk to
    std::string label;            // allowed: the entry's comment, if it has one
    std::vector<Network> clients; // distinct addresses, sorted
    std::size_t tcp = 0;          // connections
    std::size_t udp = 0;          // flows
    friend bool operator==(const ClientGroup&, const ClientGroup&) = default;
};

// An IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 2.5.5.2), which a dual-stack socket
// reports for an IPv4 peer whose packets iptables, not ip6tables, filters → that IPv4 address;
// any other address as it is.
Network unmapped(const Network& address);

// The contacts' clients (unmapped) grouped by guard, verdict and network: local when
// policy.allow_loopback and `local` (local_sources()) holds the client, else allowed when an
// entry of the allowlist of the guard of the contact's port holds it, else blocked. Sorted: blocked
// first; then more clients, then more connections and flows first; then by network.
std::vector<ClientGroup> group_clients(std::span<const Contact> contacts, const Policy& policy,
                                       std::span<const Network> local);

// group_clients over the current_contacts of every guard's ports and protocols. Throws
// netlink::NetlinkError (udp needs CAP_NET_ADMIN).
std::vector<ClientGroup> list_clients(const Policy& policy);

} // namespace memguard
