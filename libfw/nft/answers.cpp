// Reading what the kernel says to one of our batches. nfnetlink runs the whole batch while we
// are still in sendmsg, so every answer is queued by the time it returns; we still wait (up to
// a few seconds) for any that are missing rather than assume.
#include "kernel.hpp"

#include "netlink/detail.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace memguard::nft {

namespace {

namespace detail = netlink::detail;

constexpr int kAnswerTimeoutMs = 5000;
constexpr std::size_t kBufferSize = 65536;

struct Answers {
    std::size_t acks = 0;
    std::size_t errors = 0;
    int error = 0; // the first one
    std::uint32_t error_seq = 0;
    std::string kernel_message;
    std::vector<int> by_command; // 0 or the errno, by seq - first_seq - 1
};

void take(const nlmsghdr* nlh, const Batch& batch, Answers& out) {
    nlmsgerr err{};
    if (nlh->nlmsg_type != NLMSG_ERROR || mnl_nlmsg_get_payload_len(nlh) < sizeof err) {
        return;
    }
    if (nlh->nlmsg_seq < batch.first_seq() ||
        nlh->nlmsg_seq > batch.first_seq() + batch.commands() + 1) {
        return; // answers something else
    }
    std::memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof err);
    const std::size_t command = nlh->nlmsg_seq - batch.first_seq() - 1;
    if (err.error == 0) {
        ++out.acks;
        return;
    }
    ++out.errors;
    if (command < out.by_command.size()) {
        out.by_command[command] = err.error < 0 ? -err.error : err.error;
    }
    if (out.error == 0) {
        out.error = err.error < 0 ? -err.error : err.error;
        out.error_seq = nlh->nlmsg_seq;
        std::size_t offset = sizeof err;
        if ((nlh->nlmsg_flags & NLM_F_CAPPED) == 0 && err.msg.nlmsg_len >= sizeof(nlmsghdr)) {
            offset += MNL_ALIGN(err.msg.nlmsg_len - sizeof(nlmsghdr));
        }
        out.kernel_message = detail::extack_message(nlh, offset);
    }
}

// Until the first error (`every` false) or an answer to every message.
Answers receive(netlink::Socket& socket, const Batch& batch, bool every) {
    std::vector<std::uint32_t> buffer(kBufferSize / sizeof(std::uint32_t));
    Answers answers;
    answers.by_command.assign(batch.commands(), 0);
    while ((every || answers.error == 0) && answers.acks + answers.errors < batch.commands()) {
        const ssize_t n = recv(socket.fd(), buffer.data(), kBufferSize, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd pfd{socket.fd(), POLLIN, 0};
            if (poll(&pfd, 1, kAnswerTimeoutMs) == 0) {
                throw netlink::NetlinkError("commit nftables batch: no answer from the kernel",
                                            ETIMEDOUT);
            }
            continue;
        }
        if (n < 0) {
            throw netlink::NetlinkError("commit nftables batch: receive", errno);
        }
        auto len = static_cast<int>(n);
        for (const auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data());
             mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
            take(nlh, batch, answers);
        }
    }
    return answers;
}

} // namespace

void Kernel::read_answers(const Batch& batch) {
    const Answers answers = receive(socket_, batch, false);
    if (answers.error == ERESTART) {
        throw GenerationMoved("commit nftables batch: another process changed the ruleset first",
                              answers.error, answers.kernel_message);
    }
    if (answers.error != 0) {
        throw BatchRefused(batch.what(answers.error_seq), answers.error, answers.kernel_message);
    }
}

std::vector<int> Kernel::read_every_answer(const Batch& batch) {
    return receive(socket_, batch, true).by_command;
}

} // namespace memguard::nft
