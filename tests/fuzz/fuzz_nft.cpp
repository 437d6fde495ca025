// Any bytes handed to an nftables message parser (libfw/nft/decode.hpp) → a decoded value or
// nullopt; never a read outside the bytes (ASan checks that) and nothing thrown. Built once per
// parser: FUZZ_NFT selects.
#include "nft/decode.hpp"

#include <cstdint>
#include <span>
#include <vector>

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
#else
#error "FUZZ_NFT must name a parser"
#endif
    return 0;
}
