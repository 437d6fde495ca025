#include "nflog.hpp"

#include "detail.hpp"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <utility>

namespace memguard::netlink {

namespace {

constexpr std::uint16_t kPacket = detail::nfnl_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET);
constexpr std::uint16_t kConfig = detail::nfnl_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG);

// The attributes of NFULNL_MSG_PACKET we read (nfnetlink_log.h). NFULA_PREFIX is NUL-terminated
// (the kernel puts it with nla_put_string); the payload is whatever the copy range allowed.
constexpr detail::AttrPolicy<NFULA_MAX + 1> kPacketPolicy = [] {
    detail::AttrPolicy<NFULA_MAX + 1> p{};
    p[NFULA_IFINDEX_INDEV] = {MNL_TYPE_U32, 0};
    p[NFULA_PAYLOAD] = {MNL_TYPE_BINARY, 0};
    p[NFULA_PREFIX] = {MNL_TYPE_NUL_STRING, 0};
    p[NFULA_SEQ] = {MNL_TYPE_U32, 0};
    return p;
}();

// Fixed header sizes and field offsets: RFC 791 (IPv4), RFC 8200 (IPv6), RFC 9293 / RFC 768
// (the destination port is bytes 2-3 of both the tcp and the udp header).
constexpr std::size_t kIpv4MinHeader = 20;
constexpr std::size_t kIpv4ProtocolOffset = 9;
constexpr std::size_t kIpv4FragmentOffset = 6; // flags (3 bits) + fragment offset (13 bits)
constexpr std::size_t kIpv4SourceOffset = 12;
constexpr std::size_t kIpv6Header = 40;
constexpr std::size_t kIpv6NextHeaderOffset = 6;
constexpr std::size_t kIpv6SourceOffset = 8;
constexpr std::size_t kL4DestPortOffset = 2;

// The copied packet → source, protocol, destination port. nullopt when the IP header is not
// whole or its version disagrees with the message's family.
std::optional<BlockedPacket> parse_payload(std::span<const std::uint8_t> p, Family family) {
    BlockedPacket packet;
    packet.family = family;
    packet.source.family = family;
    packet.source.prefix = packet.source.max_prefix();
    std::size_t l4 = 0;
    std::uint8_t next = 0;
    bool first_fragment = true;
    if (family == Family::ipv4) {
        if (p.size() < kIpv4MinHeader || (p[0] >> 4) != 4) {
            return std::nullopt;
        }
        l4 = std::size_t{p[0] & 0x0Fu} * 4; // IHL, in 32-bit words
        if (l4 < kIpv4MinHeader || l4 > p.size()) {
            return std::nullopt;
        }
        next = p[kIpv4ProtocolOffset];
        first_fragment = (detail::load_be16(&p[kIpv4FragmentOffset]) & 0x1FFFu) == 0;
        std::memcpy(packet.source.addr.data(), &p[kIpv4SourceOffset], 4);
    } else {
        if (p.size() < kIpv6Header || (p[0] >> 4) != 6) {
            return std::nullopt;
        }
        l4 = kIpv6Header;
        next = p[kIpv6NextHeaderOffset]; // an extension header here leaves the protocol unknown
        std::memcpy(packet.source.addr.data(), &p[kIpv6SourceOffset], 16);
    }
    if (next == IPPROTO_TCP) {
        packet.protocol = Protocol::tcp;
    } else if (next == IPPROTO_UDP) {
        packet.protocol = Protocol::udp;
    }
    // Later fragments carry no transport header; a short copy range may have cut it off.
    if (packet.protocol && first_fragment && p.size() >= l4 + kL4DestPortOffset + 2) {
        packet.dport = detail::load_be16(&p[l4 + kL4DestPortOffset]);
    }
    return packet;
}

struct ParsedPacket {
    BlockedPacket packet;
    std::optional<std::uint32_t> seq; // NFULA_SEQ, with NFULNL_CFG_F_SEQ
};

std::optional<ParsedPacket> parse_packet(std::span<const std::uint8_t> nlmsg,
                                         const IfNameResolver& resolve) {
    const detail::MessageView view(nlmsg);
    const nlmsghdr* nlh = view.get();
    if (nlh == nullptr || nlh->nlmsg_type != kPacket) {
        return std::nullopt;
    }
    const auto family = view.nfgen_family();
    if (!family) {
        return std::nullopt;
    }
    detail::AttrTable attrs(kPacketPolicy);
    if (!attrs.parse(nlh, sizeof(nfgenmsg)) || attrs[NFULA_PAYLOAD] == nullptr) {
        return std::nullopt;
    }
    const nlattr* payload = attrs[NFULA_PAYLOAD];
    auto packet = parse_payload({static_cast<const std::uint8_t*>(mnl_attr_get_payload(payload)),
                                 mnl_attr_get_payload_len(payload)},
                                *family);
    if (!packet) {
        return std::nullopt;
    }
    ParsedPacket parsed{std::move(*packet), std::nullopt};
    if (attrs[NFULA_IFINDEX_INDEV] != nullptr && resolve) {
        parsed.packet.in_iface =
            resolve(detail::load_be32(mnl_attr_get_payload(attrs[NFULA_IFINDEX_INDEV])));
    }
    if (attrs[NFULA_PREFIX] != nullptr) {
        parsed.packet.prefix = mnl_attr_get_str(attrs[NFULA_PREFIX]);
    }
    if (attrs[NFULA_SEQ] != nullptr) {
        parsed.seq = detail::load_be32(mnl_attr_get_payload(attrs[NFULA_SEQ]));
    }
    return parsed;
}

} // namespace

std::string system_ifname(std::uint32_t ifindex) {
    char name[IF_NAMESIZE] = {};
    if (if_indextoname(ifindex, name) != nullptr) {
        return name;
    }
    return "if" + std::to_string(ifindex);
}

std::optional<BlockedPacket> parse_nflog_message(std::span<const std::uint8_t> nlmsg,
                                                 const IfNameResolver& resolve) {
    auto parsed = parse_packet(nlmsg, resolve);
    if (!parsed) {
        return std::nullopt;
    }
    return std::move(parsed->packet);
}

NflogListener::NflogListener(std::uint16_t group) : NflogListener(group, Options{}) {}

// One request, as `iptables -j NFLOG` users such as ulogd configure a group (libnetfilter_log:
// nflog_bind_group, nflog_set_mode, nflog_set_flags), but in one message: the kernel creates the
// group's instance for the BIND command and applies mode and flags to it in the same call
// (nfulnl_recv_config), so there is no window with the default copy mode.
NflogListener::NflogListener(std::uint16_t group, Options options)
    : socket_(Bus::netfilter), group_(group), options_(std::move(options)) {
    socket_.set_receive_buffer(options_.receive_buffer);

    detail::Request req;
    nlmsghdr* nlh = req.header(kConfig, NLM_F_REQUEST | NLM_F_ACK);
    detail::put_nfgenmsg(nlh, AF_UNSPEC, group);
    const nfulnl_msg_config_cmd cmd{NFULNL_CFG_CMD_BIND};
    mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof cmd, &cmd);
    nfulnl_msg_config_mode mode{};
    mode.copy_range = detail::to_be32(options_.copy_range);
    mode.copy_mode = NFULNL_COPY_PACKET;
    mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof mode, &mode);
    // Per-group sequence numbers in every message (NFULA_SEQ): gaps count exactly the messages
    // lost to a full receive buffer, which ENOBUFS alone cannot.
    mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, detail::to_be16(NFULNL_CFG_F_SEQ));
    // Send each packet at once: the kernel's default holds up to 100 for up to 1 s
    // (NFULNL_QTHRESH_DEFAULT, NFULNL_TIMEOUT_DEFAULT). The rule's limit match already caps
    // the rate, so batching saves nothing and only delays the first report of a probe.
    mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, detail::to_be32(1));

    // Packets logged between the bind and its ACK arrive first; they are kept for drain().
    socket_.transact(req.bytes(), "bind nflog group " + std::to_string(group), {},
                     [this](std::span<const std::uint8_t> m) { on_message(m); });
    socket_.set_nonblocking(true);
    // The instance is unbound by the kernel when the socket closes (NETLINK_URELEASE), so the
    // destructor has nothing to send.
}

void NflogListener::on_message(std::span<const std::uint8_t> message) {
    const IfNameResolver cached = [this](std::uint32_t ifindex) {
        auto [it, inserted] = ifnames_.try_emplace(ifindex);
        if (inserted && options_.resolve) {
            it->second = options_.resolve(ifindex);
        }
        return it->second;
    };
    auto parsed = parse_packet(message, cached);
    if (!parsed) {
        ++counters_.unparsed;
        return;
    }
    if (parsed->seq) {
        if (last_seq_) {
            // Unsigned arithmetic wraps with the kernel's 32-bit counter.
            const std::uint32_t gap = *parsed->seq - *last_seq_ - 1;
            if (gap < (1u << 31)) { // never backwards; a huge gap would be a restart, not loss
                counters_.lost += gap;
            }
        }
        last_seq_ = parsed->seq;
    }
    pending_.push_back(std::move(parsed->packet));
}

std::vector<BlockedPacket> NflogListener::drain() {
    const auto result =
        socket_.read_events([this](std::span<const std::uint8_t> m) { on_message(m); },
                            options_.max_datagrams_per_drain);
    counters_.overruns += result.overruns;
    ifnames_.clear(); // names are looked up afresh next time: interfaces come and go
    return std::exchange(pending_, {});
}

} // namespace memguard::netlink
