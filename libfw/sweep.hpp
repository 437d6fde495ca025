// The sweep after every apply or repair, and at start: connections to our ports from sources
// the policy does not allow, which slipped in while the port was open (before the daemon
// started, during a tamper window), are cut by deleting their conntrack entries.
#pragma once

#include "netlink/conntrack.hpp"
#include "policy.hpp"

#include <vector>

namespace memguard {

// Sources whose connections the -i lo rule accepts: 127.0.0.0/8, ::1 and every address of this
// host (netlink::local_addresses; a connection to one of our own addresses goes over lo too).
// They are also every destination that is this host. Throws netlink::NetlinkError.
std::vector<Network> local_sources();

// netlink::sweep over both families and every guard's protocols and ports: a connection is cut
// when the guard of its (protocol, port) does not allow its source; kept too, when the policy
// accepts loopback traffic (allow_loopback: the rule on -i lo), are the local_sources(), the
// sources of locally made connections. Only connections to
// this host's own addresses are cut, never those it routes to other hosts. Throws
// netlink::NetlinkError.
netlink::SweepResult sweep_unallowed(const Policy& policy);

} // namespace memguard
