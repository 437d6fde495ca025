// What our rules in the kernel judge beyond INPUT, read back by the backend that made them with
// its own rule of what is ours: the one view `memguardd doctor` takes of every path to a guarded
// port. Nothing outside a backend decides what is memguardd's.
#pragma once

#include "netlink/nat_rules.hpp"
#include "policy.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace memguard {

// A rule of ours that judges packets of `protocol` to `ports` on one path.
struct PathGuard {
    std::optional<Family> family;     // nullopt: IPv4 and IPv6
    std::optional<Protocol> protocol; // nullopt: tcp and udp
    netlink::PortRange ports;
    [[nodiscard]] bool covers(Family f, Protocol p, std::uint16_t port) const {
        return (!family || family == f) && (!protocol || *protocol == p) && ports.contains(port);
    }
};

struct Coverage {
    // Judged before any DNAT or REDIRECT, by the port the client asked for (nftables prerouting).
    std::vector<PathGuard> before_nat;
    // Connections DNATed to another host (a container), judged by their original port on the
    // way through forward (legacy mangle FORWARD; the nftables forward chain).
    std::vector<PathGuard> dnat_forward;
    // Strict reverse-path drops of ours.
    std::vector<std::pair<Family, Protocol>> reverse_path;
    // Of those, the ones whose drops together see only packets to this host's own addresses
    // (legacy `--dst-type LOCAL` alone, as older versions wrote it): forged packets to a
    // broadcast address or a multicast group pass them.
    std::vector<std::pair<Family, Protocol>> reverse_path_local_only;
    // Whole tables that are ours ("inet memguard"): not somebody else's rules to report.
    std::vector<std::string> tables;
};

} // namespace memguard
