// What ipset's files share: the message type, the names the kernel's answers use, the parser's
// entry points (ipset_parse.cpp), name checks and error codes (ipset_errors.cpp), and the size of
// a new set (ipset_sizing.cpp). Internal to libfw/netlink.
#pragma once

#include "detail.hpp"
#include "ipset.hpp"

#include <linux/netfilter/ipset/ip_set.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
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

// std::invalid_argument naming `what` unless `name` is 1 to IPSET_MAXNAMELEN - 1 bytes without
// NUL.
void check_name(const std::string& what, const std::string& name);

// ipset's private error codes (ip_set.h, ip_set_hash.h) → the nearest errno and what it means.
// strerror knows none of them ("Unknown error 4100"), so the reason goes into the message.
struct Explained {
    int error;
    std::string why;
};
Explained explain(int code);

// A new set's maxelem, max(65536, 2 * count), and hashsize, the power of two >= max(1024, count)
// capped at 2^24 (see Ipset::create).
std::uint32_t maxelem_for(std::size_t count);
std::uint32_t hashsize_for(std::size_t count);

// One IPSET_CMD_LIST reply message: its members appended to `members`, its header (if it
// carries one) into `header`. Throws NetlinkError naming `context` (see ipset.hpp).
void parse_list(std::span<const std::uint8_t> message, std::optional<IpsetHeader>& header,
                std::vector<Network>& members, std::string_view context);

// The hash:net revision an IPSET_CMD_TYPE answer offers, capped at the one ipset 7.x knows.
std::optional<std::uint8_t> parse_type_answer(std::span<const std::uint8_t> message);

} // namespace memguard::netlink::ipset_wire
