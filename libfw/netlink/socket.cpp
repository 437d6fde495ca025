#include "socket.hpp"

#include "detail.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <utility>

namespace memguard::netlink {

namespace {

// Matches the kernel's largest dump skb (see buffer_ in socket.hpp).
constexpr std::size_t kReceiveBufferSize = 32768;
// How long a request may wait for its answer. The kernel answers netfilter, sock_diag and route
// requests from the sender's own context, so a missing answer means something is badly wrong.
constexpr int kReplyTimeoutMs = 5000;

std::string describe(std::string_view context, int error, std::string_view kernel_message) {
    std::string out(context);
    out += ": ";
    out += std::strerror(error);
    if (!kernel_message.empty()) {
        out += " (kernel: ";
        out += kernel_message;
        out += ')';
    }
    return out;
}

struct BusInfo {
    int protocol; // for socket(AF_NETLINK, ..., protocol)
    std::string_view name;
};

BusInfo bus_info(Bus bus) {
    switch (bus) {
    case Bus::netfilter:
        return {NETLINK_NETFILTER, "NETLINK_NETFILTER"};
    case Bus::sock_diag:
        return {NETLINK_SOCK_DIAG, "NETLINK_SOCK_DIAG"};
    case Bus::route:
        return {NETLINK_ROUTE, "NETLINK_ROUTE"};
    }
    return {-1, "netlink"};
}

// State of one request while its replies are read; the callbacks below share it.
struct Exchange {
    std::uint32_t seq = 0; // 0: event mode, no request outstanding
    const MessageHandler* on_reply = nullptr;
    const MessageHandler* on_event = nullptr;
    bool done = false;
    int error = 0;
    std::string kernel_message;
    // A handler's exception, carried across libmnl's C frames and rethrown after mnl_cb_run2.
    std::exception_ptr failure;
};

// Data messages (type >= NLMSG_MIN_TYPE): route by sequence number.
int on_data(const nlmsghdr* nlh, void* data) {
    auto& ex = *static_cast<Exchange*>(data);
    const MessageHandler* handler = nullptr;
    if (ex.seq != 0 && nlh->nlmsg_seq == ex.seq) {
        handler = ex.on_reply;
    } else if (nlh->nlmsg_seq == 0) {
        handler = ex.on_event;
    } // else: a late reply to an abandoned request, skipped
    if (handler == nullptr || !*handler) {
        return MNL_CB_OK;
    }
    try {
        (*handler)({reinterpret_cast<const std::uint8_t*>(nlh), nlh->nlmsg_len});
    } catch (...) {
        ex.failure = std::current_exception();
        return MNL_CB_ERROR;
    }
    return MNL_CB_OK;
}

int on_noop(const nlmsghdr* /*nlh*/, void* /*data*/) {
    return MNL_CB_OK;
}

// NLMSG_ERROR: error 0 is the ACK of our request; anything else is its failure.
int on_error(const nlmsghdr* nlh, void* data) {
    auto& ex = *static_cast<Exchange*>(data);
    nlmsgerr err{};
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof err) {
        ex.error = EBADMSG;
        return MNL_CB_ERROR;
    }
    std::memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof err);
    if (nlh->nlmsg_seq != ex.seq) {
        return MNL_CB_OK; // answers an abandoned request
    }
    if (err.error == 0) {
        ex.done = true;
        return MNL_CB_STOP;
    }
    // Netlink families disagree on the sign of the error (libmnl's mnl_cb_error says the same).
    ex.error = err.error < 0 ? -err.error : err.error;
    // With NETLINK_CAP_ACK the kernel echoes only the request's header, else the whole request.
    std::size_t offset = sizeof err;
    if ((nlh->nlmsg_flags & NLM_F_CAPPED) == 0 && err.msg.nlmsg_len >= sizeof(nlmsghdr)) {
        offset += MNL_ALIGN(err.msg.nlmsg_len - sizeof(nlmsghdr));
    }
    ex.kernel_message = detail::extack_message(nlh, offset);
    return MNL_CB_ERROR;
}

// NLMSG_DONE ends a dump. Its payload is the dump's final status: negative errno when the
// kernel could not finish it (libmnl's default handler ignores this; we do not).
int on_done(const nlmsghdr* nlh, void* data) {
    auto& ex = *static_cast<Exchange*>(data);
    // Among events (seq 0), NLMSG_DONE ends a batch: nfnetlink_log closes a multi-packet
    // datagram with one whose payload is its nfgenmsg (family, version, group), not a status.
    if (ex.seq == 0 || nlh->nlmsg_seq != ex.seq) {
        return MNL_CB_OK;
    }
    int status = 0;
    if (mnl_nlmsg_get_payload_len(nlh) >= sizeof status) {
        std::memcpy(&status, mnl_nlmsg_get_payload(nlh), sizeof status);
    }
    if (status < 0) {
        ex.error = -status;
        ex.kernel_message = detail::extack_message(nlh, sizeof status);
        return MNL_CB_ERROR;
    }
    ex.done = true;
    return MNL_CB_STOP;
}

// Control messages (type < NLMSG_MIN_TYPE), indexed by type; NLMSG_OVERRUN is unused by the
// kernel. Passing the whole array replaces libmnl's defaults for every control type.
const std::array<mnl_cb_t, NLMSG_MIN_TYPE> kControl = [] {
    std::array<mnl_cb_t, NLMSG_MIN_TYPE> a{};
    a[NLMSG_NOOP] = on_noop;
    a[NLMSG_ERROR] = on_error;
    a[NLMSG_DONE] = on_done;
    a[NLMSG_OVERRUN] = on_noop;
    return a;
}();

// One datagram's messages through the callbacks above. Sequence numbers are checked by the
// callbacks (seq argument 0 turns off libmnl's own check, which would fail the request on a
// stale reply instead of skipping it); libmnl still checks the port id and NLM_F_DUMP_INTR.
int run_callbacks(const std::uint8_t* data, std::size_t n, std::uint32_t port_id, Exchange& ex) {
    auto control = kControl; // libmnl 1.0.4 takes the array as non-const
    return mnl_cb_run2(data, n, 0, port_id, on_data, &ex, control.data(),
                       static_cast<unsigned>(control.size()));
}

struct MnlClose {
    void operator()(mnl_socket* nl) const { mnl_socket_close(nl); }
};

} // namespace

NetlinkError::NetlinkError(std::string_view context, int error, std::string_view kernel_message)
    : KernelError(describe(context, error, kernel_message), error) {}

Socket::Socket(Bus bus) : buffer_(kReceiveBufferSize) {
    const BusInfo info = bus_info(bus);
    std::unique_ptr<mnl_socket, MnlClose> nl(mnl_socket_open2(info.protocol, SOCK_CLOEXEC));
    if (!nl) {
        throw NetlinkError("open " + std::string(info.name) + " socket", errno);
    }
    // Error answers: with CAP_ACK the kernel echoes only our header, not the whole request; with
    // EXT_ACK it adds a reason string. Both are optional (older kernels): failure is ignored.
    int one = 1;
    mnl_socket_setsockopt(nl.get(), NETLINK_CAP_ACK, &one, sizeof one);
    mnl_socket_setsockopt(nl.get(), NETLINK_EXT_ACK, &one, sizeof one);
    if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
        throw NetlinkError("bind " + std::string(info.name) + " socket", errno);
    }
    port_id_ = mnl_socket_get_portid(nl.get());
    // Any start value works; time-based like libmnl's examples, so a restarted daemon's
    // requests do not reuse the previous run's numbers. Never 0: 0 marks kernel events.
    seq_ = static_cast<std::uint32_t>(std::time(nullptr));
    nl_ = nl.release();
}

Socket::Socket(Socket&& other) noexcept
    : nl_(std::exchange(other.nl_, nullptr)), port_id_(other.port_id_), seq_(other.seq_),
      buffer_(std::move(other.buffer_)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
    if (this != &other) {
        close();
        nl_ = std::exchange(other.nl_, nullptr);
        port_id_ = other.port_id_;
        seq_ = other.seq_;
        buffer_ = std::move(other.buffer_);
    }
    return *this;
}

Socket::~Socket() {
    close();
}

void Socket::close() noexcept {
    if (nl_ != nullptr) {
        mnl_socket_close(nl_);
        nl_ = nullptr;
    }
}

int Socket::fd() const {
    return nl_ != nullptr ? mnl_socket_get_fd(nl_) : -1;
}

// Not const: it changes the socket, though not the members that refer to it.
// NOLINTNEXTLINE(readability-make-member-function-const)
void Socket::set_nonblocking(bool on) {
    const int flags = fcntl(fd(), F_GETFL);
    if (flags < 0) {
        throw NetlinkError("read netlink socket flags", errno);
    }
    const int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    if (wanted != flags && fcntl(fd(), F_SETFL, wanted) < 0) {
        throw NetlinkError("set netlink socket non-blocking", errno);
    }
}

// NOLINTNEXTLINE(readability-make-member-function-const): as set_nonblocking
std::size_t Socket::set_receive_buffer(std::size_t bytes) {
    // The kernel doubles the value and stores it in an int: keep the request within half.
    const int value = static_cast<int>(bytes > INT_MAX / 2 ? INT_MAX / 2 : bytes);
    if (setsockopt(fd(), SOL_SOCKET, SO_RCVBUFFORCE, &value, sizeof value) < 0 &&
        setsockopt(fd(), SOL_SOCKET, SO_RCVBUF, &value, sizeof value) < 0) {
        throw NetlinkError("set netlink receive buffer to " + std::to_string(value) + " bytes",
                           errno);
    }
    int granted = 0;
    socklen_t len = sizeof granted;
    if (getsockopt(fd(), SOL_SOCKET, SO_RCVBUF, &granted, &len) < 0) {
        throw NetlinkError("read netlink receive buffer size", errno);
    }
    return static_cast<std::size_t>(granted);
}

// One datagram into buffer_; its size. Returns 0 when the socket would block and `wait` is false
// (netlink never sends an empty datagram); with `wait`, a non-blocking socket is polled for up
// to kReplyTimeoutMs.
std::size_t Socket::receive(std::string_view what, bool wait, std::uint64_t* overruns) {
    for (;;) {
        const ssize_t n = mnl_socket_recvfrom(nl_, buffer_.data(), buffer_.size());
        if (n >= 0) {
            return static_cast<std::size_t>(n);
        }
        const int err = errno;
        if (err == EINTR) {
            continue;
        }
        if (err == EAGAIN || err == EWOULDBLOCK) {
            if (!wait) {
                return 0;
            }
            pollfd pfd{fd(), POLLIN, 0};
            const int ready = poll(&pfd, 1, kReplyTimeoutMs);
            if (ready == 0) {
                throw NetlinkError(std::string(what) + ": no answer from the kernel", ETIMEDOUT);
            }
            if (ready < 0 && errno != EINTR) {
                throw NetlinkError(std::string(what) + ": poll", errno);
            }
            continue;
        }
        if (err == ENOBUFS && overruns != nullptr) {
            ++*overruns; // events were dropped; the socket itself is fine
            continue;
        }
        // ENOBUFS while waiting for replies: some of them are lost, so the request's outcome
        // is unknown. ENOSPC is libmnl's word for a datagram larger than our buffer (MSG_TRUNC).
        throw NetlinkError(std::string(what) + ": receive", err);
    }
}

void Socket::transact(std::span<std::uint8_t> request, std::string_view what,
                      const MessageHandler& on_reply, const MessageHandler& on_event) {
    if (request.size() < sizeof(nlmsghdr)) {
        throw std::invalid_argument(std::string(what) + ": request shorter than its header");
    }
    auto* nlh = reinterpret_cast<nlmsghdr*>(request.data());
    const bool acked = (nlh->nlmsg_flags & NLM_F_ACK) != 0;
    const bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    if (!acked && !dump) {
        // Every request is answered and checked; one without an ACK could fail unnoticed.
        throw std::logic_error(std::string(what) + ": request asks for neither ACK nor dump");
    }
    if (++seq_ == 0) {
        ++seq_;
    }
    nlh->nlmsg_seq = seq_;

    const ssize_t sent = mnl_socket_sendto(nl_, request.data(), request.size());
    if (sent < 0) {
        throw NetlinkError(std::string(what) + ": send", errno);
    }
    if (static_cast<std::size_t>(sent) != request.size()) {
        throw NetlinkError(std::string(what) + ": short send", EMSGSIZE);
    }

    Exchange ex;
    ex.seq = seq_;
    ex.on_reply = &on_reply;
    ex.on_event = &on_event;
    while (!ex.done) {
        const std::size_t n = receive(what, true, nullptr);
        const int rc = run_callbacks(buffer_.data(), n, port_id_, ex);
        const int err = errno;
        if (ex.failure) {
            std::rethrow_exception(ex.failure);
        }
        if (rc == MNL_CB_ERROR) {
            throw NetlinkError(what, ex.error != 0 ? ex.error : err, ex.kernel_message);
        }
    }
}

Socket::ReadResult Socket::read_events(const MessageHandler& on_message,
                                       std::size_t max_datagrams) {
    ReadResult result;
    Exchange ex;
    ex.on_event = &on_message;
    while (result.datagrams < max_datagrams) {
        const std::size_t n = receive("read netlink events", false, &result.overruns);
        if (n == 0) {
            result.drained = true;
            return result;
        }
        ++result.datagrams;
        const int rc = run_callbacks(buffer_.data(), n, port_id_, ex);
        const int err = errno;
        if (ex.failure) {
            std::rethrow_exception(ex.failure);
        }
        if (rc == MNL_CB_ERROR) {
            throw NetlinkError("read netlink events", ex.error != 0 ? ex.error : err,
                               ex.kernel_message);
        }
    }
    return result;
}

} // namespace memguard::netlink
