// What the ipset client and its parser share: the message type, the names the kernel's
// answers use, and the parser's entry points (ipset_parse.cpp). Internal to libfw/netlink.
#pragma once

#include "detail.hpp"
#include "ipset.hpp"

#include <linux/netfilter/ipset/ip_set.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace memguard::netlink::ipset_wire {

inline constexpr std::uint16_t ipset_type(unsigned command) {
    return detail::nfnl_type(NFNL_SUBSYS_IPSET, command);
}

inline constexpr const char* kHashNet = "hash:net";

// `ipset list` names the families inet and inet6.
inline std::string_view family_name(Family family) {
    return family == Family::ipv4 ? "inet" : "inet6";
}

// One IPSET_CMD_LIST reply message: its members appended to `members`, its header (if it
// carries one) into `header`. Throws NetlinkError naming `context` (see ipset.hpp).
void parse_list(std::span<const std::uint8_t> message, std::optional<IpsetHeader>& header,
                std::vector<Network>& members, std::string_view context);

// The hash:net revision an IPSET_CMD_TYPE answer offers, capped at the one ipset 7.x knows.
std::optional<std::uint8_t> parse_type_answer(std::span<const std::uint8_t> message);

} // namespace memguard::netlink::ipset_wire
