#include "sockdiag.hpp"

#include "detail.hpp"
#include "socket.hpp"

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

// An address of struct inet_diag_sockid (4 or 16 bytes by family) as a full-length prefix.
Network address(Family family, const void* bytes) {
    Network n;
    n.family = family;
    std::memcpy(n.addr.data(), bytes, n.size());
    n.prefix = n.max_prefix();
    return n;
}

bool unspecified(const Network& n) {
    return n.addr == std::array<std::uint8_t, 16>{};
}

// One reply of a `protocol` dump, with what every parser here reads of it.
struct DiagReply {
    inet_diag_msg msg{};
    Family family = Family::ipv4;
    std::optional<bool> v6only; // INET_DIAG_SKV6ONLY, when sent
};

// nullopt for another message type, a payload shorter than inet_diag_msg, a family but AF_INET
// and AF_INET6, an attribute of the wrong size, or an INET_DIAG_PROTOCOL naming another protocol.
std::optional<DiagReply> read_reply(std::span<const std::uint8_t> nlmsg, Protocol protocol) {
    const detail::MessageView view(nlmsg);
    DiagReply reply;
    const nlmsghdr* nlh = view.get(SOCK_DIAG_BY_FAMILY, reply.msg);
    const auto family = nlh != nullptr ? detail::family_from(reply.msg.idiag_family) : std::nullopt;
    if (!family) {
        return std::nullopt;
    }
    reply.family = *family;
    detail::AttrTable attrs(kPolicy);
    if (!attrs.parse(nlh, sizeof reply.msg)) {
        return std::nullopt;
    }
    if (attrs[INET_DIAG_PROTOCOL] != nullptr &&
        mnl_attr_get_u8(attrs[INET_DIAG_PROTOCOL]) != ip_protocol(protocol)) {
        return std::nullopt; // not from the dump we asked for
    }
    if (attrs[INET_DIAG_SKV6ONLY] != nullptr) {
        reply.v6only = mnl_attr_get_u8(attrs[INET_DIAG_SKV6ONLY]) != 0;
    }
    return reply;
}

// SOCK_DIAG_BY_FAMILY with an inet_diag_req_v2, NLM_F_DUMP: every `protocol` socket of `family`
// in `states` (a bit mask of 1 << TCP_* state, netinet/tcp.h).
nlmsghdr* put_dump_header(detail::Request& req, Family family, Protocol protocol,
                          std::uint32_t states) {
    nlmsghdr* nlh = req.header(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP);
    auto* r =
        static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
    r->sdiag_family = family == Family::ipv4 ? AF_INET : AF_INET6;
    r->sdiag_protocol = ip_protocol(protocol);
    r->idiag_states = states;
    return nlh;
}

std::string dump_name(Family family, const std::string& what) {
    return "dump " + std::string(to_string(family)) + " " + what;
}

} // namespace

std::optional<ListeningSocket> parse_inet_diag_message(std::span<const std::uint8_t> nlmsg,
                                                       Protocol protocol) {
    const auto reply = read_reply(nlmsg, protocol);
    if (!reply) {
        return std::nullopt;
    }
    const inet_diag_msg& msg = reply->msg;
    const std::uint16_t port = detail::load_be16(&msg.id.idiag_sport);
    const bool listening = protocol == Protocol::tcp
                               ? msg.idiag_state == TCP_LISTEN
                               : port != 0 && detail::load_be16(&msg.id.idiag_dport) == 0 &&
                                     unspecified(address(reply->family, msg.id.idiag_dst));
    if (!listening) {
        return std::nullopt;
    }
    ListeningSocket s;
    s.family = reply->family;
    s.protocol = protocol;
    s.address = address(reply->family, msg.id.idiag_src).to_string();
    s.port = port;
    if (s.family == Family::ipv6) {
        s.v6only = reply->v6only;
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
            detail::Request request;
            (void)put_dump_header(request, family, protocol, states);
            const auto what = dump_name(family, std::string(to_string(protocol)) + " sockets");
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

std::uint32_t connected_tcp_states() {
    std::uint32_t states = 0;
    for (const int state : {TCP_ESTABLISHED, TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_TIME_WAIT,
                            TCP_CLOSE_WAIT, TCP_LAST_ACK, TCP_CLOSING}) {
        states |= 1u << static_cast<unsigned>(state);
    }
    return states;
}

std::optional<TcpConnection> parse_tcp_connection_message(std::span<const std::uint8_t> nlmsg) {
    const auto reply = read_reply(nlmsg, Protocol::tcp);
    if (!reply || reply->msg.idiag_state >= 32 ||
        (connected_tcp_states() & (1u << reply->msg.idiag_state)) == 0) {
        return std::nullopt;
    }
    const inet_diag_msg& msg = reply->msg;
    TcpConnection c;
    c.family = reply->family;
    c.local = address(c.family, msg.id.idiag_src);
    c.local_port = detail::load_be16(&msg.id.idiag_sport);
    c.remote = address(c.family, msg.id.idiag_dst);
    c.remote_port = detail::load_be16(&msg.id.idiag_dport);
    c.state = msg.idiag_state;
    if (c.local_port == 0 || c.remote_port == 0 || unspecified(c.remote)) {
        return std::nullopt;
    }
    return c;
}

// The filter is a program of struct inet_diag_bc_op that the kernel checks
// (inet_diag_bc_audit) and runs per socket (inet_diag_bc_run): an op that holds moves on by its
// `yes` bytes, one that fails by its `no` bytes; landing exactly on the end accepts the socket,
// jumping past it rejects it. `sport == port` as ss compiles it: S_EQ, whose port (host byte
// order) rides in the `no` field of the op after it; yes → the end, no → 4 bytes past it.
std::vector<std::uint8_t> build_tcp_connections_dump(Family family, std::uint16_t port) {
    constexpr auto op = static_cast<std::uint8_t>(sizeof(inet_diag_bc_op));
    static_assert(op == 4, "inet_diag_bc_op is 4 bytes (linux/inet_diag.h)");
    const std::array<inet_diag_bc_op, 2> sport_is{{
        {INET_DIAG_BC_S_EQ, 2 * op, 3 * op},
        {INET_DIAG_BC_NOP, 0, port},
    }};
    detail::Request request;
    nlmsghdr* nlh = put_dump_header(request, family, Protocol::tcp, connected_tcp_states());
    mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, sizeof sport_is, sport_is.data());
    return request.copy();
}

std::vector<TcpConnection> tcp_connections(const std::vector<std::uint16_t>& ports) {
    Socket socket(Bus::sock_diag);
    std::vector<TcpConnection> found;
    for (const Family family : {Family::ipv4, Family::ipv6}) {
        for (const std::uint16_t port : ports) {
            auto request = build_tcp_connections_dump(family, port);
            const auto what = dump_name(family, "tcp connections to port " + std::to_string(port));
            socket.transact(request, what, [&](std::span<const std::uint8_t> message) {
                // Checked here too, so that a kernel that ignored the filter counts no
                // connection twice.
                auto c = parse_tcp_connection_message(message);
                if (c && c->family == family && c->local_port == port) {
                    found.push_back(*c);
                }
            });
        }
    }
    return found;
}

} // namespace memguard::netlink
