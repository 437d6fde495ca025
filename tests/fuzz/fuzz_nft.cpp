// Any bytes handed to an nftables message parser (libfw/nft/decode.hpp) → a decoded value or
// nullopt; never a read outside the bytes (ASan checks that), nothing thrown, and never libnftnl's
// exit() (libFuzzer reports that as a crash). Built once per parser: FUZZ_NFT selects.
// FUZZ_NFT 8 takes a whole dump of every table's rules (Docker's, firewalld's, ours), message
// after message, as `memguardd doctor` reads it.
#include "nft/decode.hpp"
#include "nft/foreign_rules.hpp"

#include <linux/netlink.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#if FUZZ_NFT == 8
namespace {

// Each netlink message of `dump` on its own, as the socket's reader hands them over: cut at
// nlmsg_len, the next one at the aligned end; a length that does not fit ends the dump.
void each_message(const std::vector<std::uint8_t>& dump) {
    std::size_t at = 0;
    while (dump.size() - at >= sizeof(nlmsghdr)) {
        std::uint32_t len = 0;
        std::memcpy(&len, dump.data() + at, sizeof len);
        if (len < sizeof(nlmsghdr) || len > dump.size() - at) {
            return;
        }
        // Copied so the parser sees exactly this message, with nothing readable behind it.
        const std::vector<std::uint8_t> message(dump.data() + at, dump.data() + at + len);
        (void)memguard::nft::parse_nft_rule_message(message);
        at += std::min<std::size_t>(NLMSG_ALIGN(len), dump.size() - at);
    }
}

} // namespace
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Copied so the parser sees exactly these bytes, with nothing readable behind them.
    const std::vector<std::uint8_t> bytes(data, data + size);
    const memguard::nft::Bytes message(bytes);
#if FUZZ_NFT == 1
    (void)memguard::nft::decode_table(message);
#elif FUZZ_NFT == 2
    (void)memguard::nft::decode_chain(message);
#elif FUZZ_NFT == 3
    (void)memguard::nft::decode_set(message);
#elif FUZZ_NFT == 4
    (void)memguard::nft::decode_elements(message);
#elif FUZZ_NFT == 5
    (void)memguard::nft::decode_rule(message);
#elif FUZZ_NFT == 6
    (void)memguard::nft::classify_event(message, 4242);
#elif FUZZ_NFT == 7
    (void)memguard::nft::decode_gen(message);
#elif FUZZ_NFT == 8
    (void)message;
    each_message(bytes);
#else
#error "FUZZ_NFT must name a parser"
#endif
    return 0;
}
