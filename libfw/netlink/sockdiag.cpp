#include "sockdiag.hpp"

#include "detail.hpp"
#include "socket.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace memguard::netlink {

namespace {

// inet_diag.h: attributes after struct inet_diag_msg. INET_DIAG_SKV6ONLY is sent for every
// AF_INET6 socket in state LISTEN or CLOSE (which covers bound, unconnected udp) whatever
// idiag_ext asks (inet_diag_msg_attrs_fill); INET_DIAG_PROTOCOL only by some kernels.
constexpr detail::AttrPolicy<INET_DIAG_MAX + 1> kPolicy = [] {
    detail::AttrPolicy<INET_DIAG_MAX + 1> p{};
    p[INET_DIAG_SKV6ONLY] = {MNL_TYPE_U8, 0};
    p[INET_DIAG_PROTOCOL] = {MNL_TYPE_U8, 0};
    return p;
}();

std::uint8_t ip_protocol(Protocol p) {
    return p == Protocol::tcp ? IPPROTO_TCP : IPPROTO_UDP;
}

bool all_zero(const std::array<std::uint8_t, 16>& bytes, std::size_t n) {
    return std::all_of(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n),
                       [](std::uint8_t b) { return b == 0; });
}

// SOCK_DIAG_BY_FAMILY with an inet_diag_req_v2, NLM_F_DUMP: every `protocol` socket of `family`
// in `states` (a bit mask of 1 << TCP_* state, netinet/tcp.h).
detail::Request dump_request(Family family, Protocol protocol, std::uint32_t states) {
    detail::Request req;
    nlmsghdr* nlh = req.header(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP);
    auto* r =
        static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
    r->sdiag_family = family == Family::ipv4 ? AF_INET : AF_INET6;
    r->sdiag_protocol = ip_protocol(protocol);
    r->idiag_states = states;
    return req;
}

} // namespace

std::optional<ListeningSocket> parse_inet_diag_message(std::span<const std::uint8_t> nlmsg,
                                                       Protocol protocol) {
    const detail::MessageView view(nlmsg);
    const nlmsghdr* nlh = view.get();
    if (nlh == nullptr || nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY) {
        return std::nullopt;
    }
    inet_diag_msg msg{};
    if (!view.extra_header(msg)) {
        return std::nullopt;
    }
    ListeningSocket s;
    s.protocol = protocol;
    if (msg.idiag_family == AF_INET) {
        s.family = Family::ipv4;
    } else if (msg.idiag_family == AF_INET6) {
        s.family = Family::ipv6;
    } else {
        return std::nullopt;
    }
    detail::AttrTable attrs(kPolicy);
    if (!attrs.parse(nlh, sizeof msg)) {
        return std::nullopt;
    }
    if (attrs[INET_DIAG_PROTOCOL] != nullptr &&
        mnl_attr_get_u8(attrs[INET_DIAG_PROTOCOL]) != ip_protocol(protocol)) {
        return std::nullopt; // not from the dump we asked for
    }

    const std::size_t len = s.family == Family::ipv4 ? 4 : 16;
    std::array<std::uint8_t, 16> local{};
    std::array<std::uint8_t, 16> remote{};
    std::memcpy(local.data(), msg.id.idiag_src, len);
    std::memcpy(remote.data(), msg.id.idiag_dst, len);
    s.port = detail::load_be16(&msg.id.idiag_sport);
    const std::uint16_t remote_port = detail::load_be16(&msg.id.idiag_dport);

    const bool listening = protocol == Protocol::tcp
                               ? msg.idiag_state == TCP_LISTEN
                               : s.port != 0 && remote_port == 0 && all_zero(remote, len);
    if (!listening) {
        return std::nullopt;
    }

    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(msg.idiag_family, local.data(), text, sizeof text);
    s.address = text;
    if (s.family == Family::ipv6) {
        if (attrs[INET_DIAG_SKV6ONLY] != nullptr) {
            s.v6only = mnl_attr_get_u8(attrs[INET_DIAG_SKV6ONLY]) != 0;
        }
        s.v6only_unknown_or_dual = s.v6only != true;
    }
    s.inode = msg.idiag_inode;
    return s;
}

std::vector<ListeningSocket> listening_sockets(const std::vector<std::uint16_t>& ports) {
    Socket socket(Bus::sock_diag);
    std::vector<ListeningSocket> found;
    for (const Family family : {Family::ipv4, Family::ipv6}) {
        for (const Protocol protocol : {Protocol::tcp, Protocol::udp}) {
            // tcp: LISTEN only. udp: every state — unconnected sockets are TCP_CLOSE, connected
            // ones TCP_ESTABLISHED; the parser keeps those without a peer.
            const std::uint32_t states =
                protocol == Protocol::tcp ? (1u << TCP_LISTEN) : ~std::uint32_t{0};
            auto request = dump_request(family, protocol, states);
            const std::string what = "dump " + std::string(to_string(protocol)) + " " +
                                     std::string(to_string(family)) + " sockets";
            socket.transact(request.bytes(), what, [&](std::span<const std::uint8_t> message) {
                auto s = parse_inet_diag_message(message, protocol);
                if (s && (ports.empty() ||
                          std::find(ports.begin(), ports.end(), s->port) != ports.end())) {
                    found.push_back(std::move(*s));
                }
            });
        }
    }
    return found;
}

} // namespace memguard::netlink
