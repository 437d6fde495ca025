// Revocation through ctnetlink: whenever the rules were (re)applied, the conntrack entries to our
// ports from every source not allowed are deleted (the sweep), so an established connection is
// cut off now (its next packet is no longer ESTABLISHED, and the MEMGUARD chain drops it)
// instead of when it ends.
//
// Split in two: a pure part (parse one dump message, match it, build the dump and delete
// requests) that unit tests and fuzzers call with bytes, and `sweep`, which talks
// to the kernel.
#pragma once

#include "net.hpp"
#include "network_index.hpp"
#include "socket.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace memguard::netlink {

// The original-direction tuple of one conntrack entry, what identifies the entry, and whether
// it was DNATed.
struct ConntrackTuple {
    Family family = Family::ipv4;
    Network source;           // full-length prefix
    Network destination;      // full-length prefix
    std::uint8_t l4proto = 0; // IP protocol number (6 tcp, 17 udp, 1 icmp, ...)
    // Host byte order; 0 for protocols without ports (icmp, ...).
    std::uint16_t source_port = 0;
    std::uint16_t destination_port = 0;
    std::optional<std::uint16_t> zone; // CTA_ZONE, when the entry has a zone
    std::optional<std::uint32_t> id;   // CTA_ID: tells this entry from a later one with its tuple
    // IPS_DST_NAT in CTA_STATUS: a DNAT rewrote the destination (the reply tuple's source is
    // the container's address, not `destination`)
    bool dnat = false;

    // tcp or udp; nullopt for any other protocol.
    [[nodiscard]] std::optional<Protocol> protocol() const;

    friend bool operator==(const ConntrackTuple&, const ConntrackTuple&) = default;
};

// One ctnetlink message (IPCTNL_MSG_CT_NEW as a dump sends it, or IPCTNL_MSG_CT_DELETE) as bytes
// → its original tuple. nullopt for anything malformed (lengths, attribute sizes, a missing
// address or port, a family that disagrees with the addresses) or unrelated (another message
// type). Never reads outside `nlmsg`; the bytes need no particular alignment.
std::optional<ConntrackTuple> parse_conntrack_message(std::span<const std::uint8_t> nlmsg);

// The IPCTNL_MSG_CT_DELETE request (NLM_F_ACK) for the entry `tuple` came from: its original
// tuple, plus CTA_ZONE and CTA_ID when known. Only tcp and udp tuples (std::invalid_argument
// otherwise: other protocols need other tuple attributes, and we never revoke them).
std::vector<std::uint8_t> build_conntrack_delete(const ConntrackTuple& tuple);

// The IPCTNL_MSG_CT_GET dump request (NLM_F_DUMP) for the entries of `family` whose original
// protocol is `protocol` and original destination port `port`, filtered by the kernel
// (CTA_FILTER, Linux >= 5.8): what `conntrack -L -f ipv4 -p tcp --dport 11211` asks for.
std::vector<std::uint8_t> build_conntrack_filtered_dump(Family family, Protocol protocol,
                                                        std::uint16_t port);

// Which entries a dump reads: those of one of `families` whose original protocol is one of
// `protocols` (tcp, udp) and original destination port one of `ports`.
struct ConntrackScope {
    std::vector<Family> families;
    std::vector<Protocol> protocols;
    std::vector<std::uint16_t> ports;

    [[nodiscard]] bool contains(const ConntrackTuple& tuple) const;
};

struct ConntrackEntries {
    std::vector<ConntrackTuple> entries; // in the order the dumps gave them
    // False when the kernel did not filter the dumps: it refused CTA_FILTER (EINVAL,
    // EOPNOTSUPP) and one whole-table dump per family was read instead, or it sent entries
    // outside the filter (kernels before 5.8 ignore the attribute). The entries are the same.
    bool filtered = true;
};

// The entries in `scope` for which `wanted` is true, read through `socket`: one filtered dump
// per family x protocol x port (build_conntrack_filtered_dump), not the whole table. Each entry
// is still checked against the scope here; the filter only spares reading the rest. Needs
// CAP_NET_ADMIN; throws NetlinkError.
ConntrackEntries conntrack_entries(Socket& socket, const ConntrackScope& scope,
                                   const std::function<bool(const ConntrackTuple&)>& wanted);

struct SweepResult {
    std::size_t deleted = 0;          // entries deleted
    std::vector<Network> sources;     // distinct original sources cut, sorted, at most 8 kept
    std::size_t distinct_sources = 0; // how many distinct sources were cut in all
    bool filtered = true;             // as ConntrackEntries::filtered
};

// Deletes every conntrack entry whose original destination port is one of `ports`, protocol one
// of `protocols`, family one of `families`, original destination in `destinations` (this host's
// addresses: a connection routed through this host to another is none of our business), and
// whose original source is neither in `allowed` nor in `keep` (loopback and the host's own
// addresses: locally made connections, which the rules accept through -i lo), found with
// conntrack_entries. Deletes as one delete per entry (ACKed, ENOENT not an error: gone
// already, or a newer entry took the tuple). Empty `families`, `protocols` or `ports`: returns an
// empty result without opening a socket. Needs CAP_NET_ADMIN; throws NetlinkError.
SweepResult sweep(const std::vector<Family>& families, const std::vector<Protocol>& protocols,
                  const std::vector<std::uint16_t>& ports, const NetworkIndex& allowed,
                  const NetworkIndex& keep, const NetworkIndex& destinations);
// The same with the decision made by `unallowed` (an entry of the scope whose connection our
// rules would not let in now): one dump for several guards, each with its own allowlist.
SweepResult sweep(const std::vector<Family>& families, const std::vector<Protocol>& protocols,
                  const std::vector<std::uint16_t>& ports,
                  const std::function<bool(const ConntrackTuple&)>& unallowed);

} // namespace memguard::netlink
