#include "contacts.hpp"

#include "netlink/conntrack.hpp"
#include "netlink/sockdiag.hpp"
#include "netlink/socket.hpp"

#include <algorithm>

namespace memguard {

std::vector<Contact> current_contacts(const std::vector<std::uint16_t>& ports,
                                      const std::vector<Protocol>& protocols,
                                      const NetworkIndex& here) {
    const auto asked = [&](Protocol p) {
        return std::ranges::find(protocols, p) != protocols.end();
    };
    std::vector<Contact> contacts;
    if (asked(Protocol::tcp)) {
        for (const auto& c : netlink::tcp_connections(ports)) {
            contacts.push_back({c.remote, Protocol::tcp, c.local_port});
        }
    }
    if (asked(Protocol::udp) && !ports.empty()) {
        netlink::Socket socket(netlink::Bus::netfilter);
        const netlink::ConntrackScope scope{{Family::ipv4, Family::ipv6}, {Protocol::udp}, ports};
        const auto flows =
            netlink::conntrack_entries(socket, scope, [&](const netlink::ConntrackTuple& t) {
                return here.contains(t.destination);
            });
        for (const auto& t : flows.entries) {
            contacts.push_back({t.source, Protocol::udp, t.destination_port});
        }
    }
    return contacts;
}

} // namespace memguard
