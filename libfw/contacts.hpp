// Who talks to our ports right now, as the kernel knows it: tcp connections from sock_diag (the
// sockets on our side of them), udp flows from conntrack (a udp server's socket has no peer to
// show).
#pragma once

#include "net.hpp"
#include "network_index.hpp"
#include "policy.hpp"

#include <cstdint>
#include <vector>

namespace memguard {

// One tcp connection or udp flow to a guarded port.
struct Contact {
    // The peer's address as the kernel reports it: full-length, and ::ffff:a.b.c.d for an IPv4
    // peer of a dual-stack socket.
    Network client;
    Protocol protocol = Protocol::tcp;
    std::uint16_t port = 0; // ours: the guarded port it talks to
    friend bool operator==(const Contact&, const Contact&) = default;
};

// The contacts to `ports` over `protocols`, both families: tcp, each socket on our side in a
// connected state (netlink::tcp_connections), its peer the client; udp, each conntrack entry
// whose original destination is in `here` (this host's addresses: a flow routed through this
// host is not ours), its original source the client. conntrack sees udp only where something in
// the network namespace has it track (memguardd's rules do). udp needs CAP_NET_ADMIN; throws
// netlink::NetlinkError.
std::vector<Contact> current_contacts(const std::vector<std::uint16_t>& ports,
                                      const std::vector<Protocol>& protocols,
                                      const NetworkIndex& here);

} // namespace memguard
