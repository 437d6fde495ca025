#include "events.hpp"

#include "decode.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <vector>

namespace memguard::nft {

namespace {

// A burst of changes (`nft -f` of a big ruleset, a 10,000-element set) queues one message per
// object; 8 MiB holds a lot of them before the kernel starts dropping.
constexpr std::size_t kReceiveBuffer = std::size_t{8} << 20;
constexpr std::size_t kDatagram = 65536;
// Bounds one call so a flood of events cannot keep the caller's loop here for ever.
constexpr int kMaxDatagrams = 4096;

} // namespace

EventWatch::EventWatch() : socket_(netlink::Bus::netfilter) {
    const int group = NFNLGRP_NFTABLES;
    if (setsockopt(socket_.fd(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
        throw netlink::NetlinkError("join NFNLGRP_NFTABLES", errno);
    }
    socket_.set_nonblocking(true);
    socket_.set_receive_buffer(kReceiveBuffer);
}

// Read by hand, not with Socket::read_events: nftables events carry the sequence number and port
// id of the batch that caused them, which libmnl's checks there would take for errors.
bool EventWatch::drain(std::uint32_t own_portid) {
    std::vector<std::uint32_t> buffer(kDatagram / sizeof(std::uint32_t));
    bool changed = false;
    for (int i = 0; i < kMaxDatagrams; ++i) {
        const ssize_t n = recv(socket_.fd(), buffer.data(), kDatagram, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == ENOBUFS) { // events were lost: only a full read can tell what changed
                changed = true;
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return changed;
            }
            throw netlink::NetlinkError("read nftables events", errno);
        }
        auto len = static_cast<int>(n);
        for (const auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data());
             mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
            const Bytes message(reinterpret_cast<const std::uint8_t*>(nlh), nlh->nlmsg_len);
            changed = changed || classify_event(message, own_portid) == EventClass::foreign;
        }
    }
    return true; // not drained: assume the worst
}

} // namespace memguard::nft
