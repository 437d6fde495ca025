// Change notification: a socket in NFNLGRP_NFTABLES that says when somebody else touched our
// tables, or when events were lost (then only a full read tells the truth).
#pragma once

#include "netlink/socket.hpp"

#include <cstdint>

namespace memguard::nft {

class EventWatch {
public:
    // Joins the group at once: create it before the first dump, so no change slips between.
    EventWatch();
    [[nodiscard]] int fd() const { return socket_.fd(); }
    // Reads everything queued; true when an event about our tables came from a socket other
    // than `own_portid`, or when the kernel dropped events (ENOBUFS).
    bool drain(std::uint32_t own_portid);

private:
    netlink::Socket socket_;
};

} // namespace memguard::nft
