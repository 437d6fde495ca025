// A netlink socket (libmnl) as a move-only owner, and the one request/reply loop every module
// here uses: send a request, read replies until the kernel's ACK or DONE for that request.
#pragma once

#include "../kernel_error.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct mnl_socket; // libmnl's opaque handle; only socket.cpp sees inside

namespace memguard::netlink {

// A failed netlink operation: what we were doing, the errno, and the kernel's extended-ACK
// message when it sent one ("delete conntrack entry 10.0.0.5 → ...: No such file or directory").
class NetlinkError : public KernelError {
public:
    NetlinkError(std::string_view context, int error, std::string_view kernel_message = {});
};

enum class Bus : std::uint8_t {
    netfilter, // NETLINK_NETFILTER: ctnetlink, nfnetlink_log
    sock_diag, // NETLINK_SOCK_DIAG: inet_diag
    route,     // NETLINK_ROUTE: rtnetlink (interface addresses)
};

// One netlink message, as the bytes of its header, extra header and attributes. The span is valid
// only during the call.
using MessageHandler = std::function<void(std::span<const std::uint8_t> message)>;

class Socket {
public:
    // Opens (close-on-exec) and binds with a port id the kernel picks. Throws NetlinkError.
    explicit Socket(Bus bus);
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    Socket(Socket&& other) noexcept;
    Socket& operator=(Socket&& other) noexcept;
    ~Socket();

    [[nodiscard]] int fd() const;
    [[nodiscard]] std::uint32_t port_id() const { return port_id_; }

    void set_nonblocking(bool on);

    // Asks for a receive buffer of `bytes` and returns what the kernel granted (socket(7): it
    // reports twice the request, the extra being its bookkeeping). Event sockets need this: the
    // kernel queues one message per event and, once the queue outgrows the buffer, drops
    // messages and fails the next recv with ENOBUFS. SO_RCVBUFFORCE (needs CAP_NET_ADMIN) may
    // exceed net.core.rmem_max; without the capability we fall back to SO_RCVBUF, capped there.
    std::size_t set_receive_buffer(std::size_t bytes);

    // Sends one request and reads replies until the kernel has answered it in full.
    //
    // `request` starts with a netlink header (built with mnl_nlmsg_put_header) whose flags ask
    // for NLM_F_ACK or NLM_F_DUMP; this stamps a fresh sequence number into it. Replies carrying
    // that sequence number go to `on_reply`; the request is done at its ACK (an NLMSG_ERROR with
    // error 0) or, for a dump, at NLMSG_DONE. An NLMSG_ERROR with an error, or a DONE carrying
    // one, throws NetlinkError with `what` as context. Messages with sequence number 0 are
    // events that arrived meanwhile (nfnetlink_log packets): they go to `on_event`. Messages
    // with another sequence number answer an earlier request that was abandoned (its handler
    // threw): they are skipped, so the socket stays usable — except that the kernel runs one
    // dump per socket at a time, so a new dump right after an abandoned one may fail with EBUSY.
    // The modules here open one socket per operation and give it up on any error.
    void transact(std::span<std::uint8_t> request, std::string_view what,
                  const MessageHandler& on_reply = {}, const MessageHandler& on_event = {});

    struct ReadResult {
        std::size_t datagrams = 0;
        // ENOBUFS seen: each one means the kernel dropped one or more messages for this socket.
        std::uint64_t overruns = 0;
        // True when the socket had nothing more to read; false when `max_datagrams` was reached.
        bool drained = false;
    };
    // For event sockets (non-blocking): reads up to `max_datagrams` queued datagrams and passes
    // every message in them to `on_message`. ENOBUFS is counted, not thrown: the socket is still
    // good, only events were lost, and the next recv returns the messages queued after the loss.
    ReadResult read_events(const MessageHandler& on_message, std::size_t max_datagrams);

private:
    void close() noexcept;
    std::size_t receive(std::string_view what, bool wait, std::uint64_t* overruns);

    mnl_socket* nl_ = nullptr;
    std::uint32_t port_id_ = 0;
    std::uint32_t seq_ = 0;
    // One receive buffer per socket, sized so no message is ever truncated: the kernel builds
    // dump messages of up to 32 KiB (netlink_dump; libmnl >= 1.0.5 calls this
    // MNL_SOCKET_DUMP_SIZE), and a recv into a smaller buffer would lose the rest (MSG_TRUNC).
    std::vector<std::uint8_t> buffer_;
};

} // namespace memguard::netlink
