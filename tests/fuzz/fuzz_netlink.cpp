// Any bytes handed to a netlink reply parser → a parsed value or nullopt; never a read outside
// the bytes (ASan checks that) and nothing thrown (ipset: nothing but NetlinkError). Built once per parser: FUZZ_PARSER selects.
#include "netlink/addresses.hpp"
#include "netlink/conntrack.hpp"
#include "netlink/ipset.hpp"
#include "netlink/nflog.hpp"
#include "netlink/nftables.hpp"
#include "netlink/sockdiag.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Copied so the parser sees exactly these bytes, with nothing readable behind them.
    const std::vector<std::uint8_t> bytes(data, data + size);
    const std::span<const std::uint8_t> message(bytes);
#if FUZZ_PARSER == 1
    (void)memguard::netlink::parse_conntrack_message(message);
#elif FUZZ_PARSER == 2
    (void)memguard::netlink::parse_nflog_message(
        message, [](std::uint32_t index) { return "if" + std::to_string(index); });
#elif FUZZ_PARSER == 3
    (void)memguard::netlink::parse_inet_diag_message(message, memguard::Protocol::tcp);
    (void)memguard::netlink::parse_inet_diag_message(message, memguard::Protocol::udp);
#elif FUZZ_PARSER == 4
    (void)memguard::netlink::parse_nft_table_message(message);
#elif FUZZ_PARSER == 5
    // This parser refuses malformed input with NetlinkError by design: caught. Anything else
    // thrown, or any read outside the bytes, is a finding.
    std::optional<memguard::netlink::IpsetHeader> header;
    std::vector<memguard::Network> members;
    try {
        memguard::netlink::parse_ipset_list_message(message, header, members);
    } catch (const memguard::netlink::NetlinkError&) {
    }
#elif FUZZ_PARSER == 6
    (void)memguard::netlink::parse_address_message(message);
#elif FUZZ_PARSER == 7
    (void)memguard::netlink::parse_tcp_connection_message(message);
#else
#error "FUZZ_PARSER must name a parser"
#endif
    return 0;
}
