// The sweep after every apply or repair, and at start: connections to our ports from sources
// the policy does not allow, which slipped in while the port was open (before the daemon
// started, during a tamper window, under another backend), are cut by deleting their conntrack
// entries.
#pragma once

#include "netlink/conntrack.hpp"
#include "policy.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <utility>
#include <vector>

namespace memguard {

// Sources whose connections the -i lo rule accepts: 127.0.0.0/8, ::1 and every address of this
// host (netlink::local_addresses; a connection to one of our own addresses goes over lo too).
// They are also every destination that is this host. Throws netlink::NetlinkError.
std::vector<Network> local_sources();

// What our rules would do with the first packet of the connection a conntrack entry tracks
// (the entry's original tuple: the address and port its client asked for). The rules judge a
// connection to a guarded (protocol, port)
//   - delivered to this host: its original destination is one of `local` (input, prerouting);
//   - DNATed from that port, whatever the address it was asked at (this host's, a broadcast,
//     multicast or anycast address, another host's): the forward path (legacy mangle FORWARD
//     --ctorigdstport, nftables' forward chain on ct original proto-dst);
// by the allowlist of the guard that owns the (protocol, port), and accept loopback (`local`,
// when the policy allows loopback: the -i lo / iifname "lo" rule). A connection routed through
// this host to another without a DNAT is not theirs to judge, nor is a port nobody guards.
class SweepJudge {
public:
    // `local`: local_sources() (this host's addresses, 127.0.0.0/8, ::1).
    SweepJudge(const Policy& policy, std::span<const Network> local);
    // True: the rules refuse the connection now, so the sweep cuts it.
    [[nodiscard]] bool refuses(const netlink::ConntrackTuple& t) const;

private:
    NetworkIndex local_;
    bool keep_local_ = true;
    std::vector<NetworkIndex> allowed_; // per guard
    std::map<std::pair<Protocol, std::uint16_t>, std::size_t> guard_of_;
};

// netlink::sweep over both families and every guard's protocols and ports (by the original
// destination port), cutting what SweepJudge refuses. Throws netlink::NetlinkError.
netlink::SweepResult sweep_unallowed(const Policy& policy);

} // namespace memguard
