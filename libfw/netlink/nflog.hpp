// Blocked-packet audit: the packets our rules log with `-j NFLOG --nflog-group N`, read from
// nfnetlink_log through libmnl. A pure parser (bytes → BlockedPacket) and a listener that owns
// the socket and hands the daemon's event loop an fd.
#pragma once

#include "net.hpp"
#include "socket.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace memguard::netlink {

struct BlockedPacket {
    Family family = Family::ipv4;
    Network source; // full-length prefix
    // tcp or udp; nullopt for any other next header (IPv6 extension headers are not walked).
    std::optional<Protocol> protocol;
    std::uint16_t dport = 0; // host order; 0 when unknown (other protocol, later fragment)
    std::string in_iface;    // "" when the packet had no input interface
    std::string prefix;      // the rule's --nflog-prefix
    friend bool operator==(const BlockedPacket&, const BlockedPacket&) = default;
};

// Interface index → name. Returns "" when it cannot tell.
using IfNameResolver = std::function<std::string(std::uint32_t ifindex)>;

// The running system's names (if_indextoname); "if<N>" for an index that no longer exists.
std::string system_ifname(std::uint32_t ifindex);

// One nfnetlink_log NFULNL_MSG_PACKET message as bytes → the packet it reports. The source,
// protocol and destination port come from the copied packet (NFULA_PAYLOAD: IPv4 header with its
// IHL, or the IPv6 fixed header; then the tcp/udp header), the interface from
// NFULA_IFINDEX_INDEV through `resolve`, the prefix from NFULA_PREFIX. nullopt for malformed or
// unrelated messages and for packets whose IP header was not copied. Never reads outside `nlmsg`.
std::optional<BlockedPacket> parse_nflog_message(std::span<const std::uint8_t> nlmsg,
                                                 const IfNameResolver& resolve);

// Owns a netfilter netlink socket bound to one nfnetlink_log group.
//
// One group carries every family: the group is bound once (nfgen_family AF_UNSPEC) and each
// message says its own family. The obsolete per-family NFULNL_CFG_CMD_PF_BIND is not sent: the
// NFLOG target hands its packets to nfnetlink_log directly, while PF_BIND would make
// nfnetlink_log the namespace-wide default logger of the family, changing where other
// subsystems' logs (e.g. nf_conntrack_log_invalid) go.
class NflogListener {
public:
    struct Options {
        // Bytes of each packet the kernel copies: enough for an IPv6 header (40) plus options
        // or an IPv4 header with options (60), and the tcp/udp ports.
        std::uint32_t copy_range = 128;
        // Room for a burst between two drains (see Socket::set_receive_buffer).
        std::size_t receive_buffer = 4u << 20;
        // Datagrams read per drain(), so a flood cannot hold the event loop; what is left keeps
        // the fd readable, so poll it level-triggered (plain epoll, not EPOLLET).
        std::size_t max_datagrams_per_drain = 256;
        IfNameResolver resolve = system_ifname;
    };

    // Binds `group` with copy mode NFULNL_COPY_PACKET and sequence numbers, in one ACKed
    // request. EPERM when the caller lacks CAP_NET_ADMIN or another socket (ulogd, a second
    // memguardd) holds the group; EBUSY when this socket does. Throws NetlinkError.
    explicit NflogListener(std::uint16_t group);
    NflogListener(std::uint16_t group, Options options);

    // Readable when packets are waiting. Non-blocking.
    [[nodiscard]] int fd() const { return socket_.fd(); }
    [[nodiscard]] std::uint16_t group() const { return group_; }

    // Reads what is pending (up to max_datagrams_per_drain) and returns the packets parsed.
    // Losses are counted in counters(), never thrown.
    std::vector<BlockedPacket> drain();

    struct Counters {
        // Messages the kernel dropped before we read them: gaps in the per-group sequence
        // numbers (NFULNL_CFG_F_SEQ), so an exact count.
        std::uint64_t lost = 0;
        // ENOBUFS reported by recv: receive buffer overruns (each lost one message or more).
        std::uint64_t overruns = 0;
        // Messages that did not parse (unrelated types, packets without an IP header).
        std::uint64_t unparsed = 0;
    };
    // Totals since construction.
    [[nodiscard]] Counters counters() const { return counters_; }

private:
    void on_message(std::span<const std::uint8_t> message);

    Socket socket_;
    std::uint16_t group_;
    Options options_;
    Counters counters_;
    std::optional<std::uint32_t> last_seq_;
    std::vector<BlockedPacket> pending_;
    // Interface names, kept for one drain(): one lookup per interface per drain, not per packet.
    std::unordered_map<std::uint32_t, std::string> ifnames_;
};

} // namespace memguard::netlink
