// Any bytes handed to the snapshot walker as a table → a KernelView or an EntryError; never a
// read outside the bytes (ASan checks that) and never an endless walk.
// Input: a family byte, INPUT's first and policy offsets (4 bytes each, little-endian), then
// the entries as IPT_SO_GET_ENTRIES returns them (make_snapshot_seeds writes real ones).
#include "fake_sets.hpp"
#include "legacy/iptc/entry.hpp"
#include "legacy/iptc/snapshot.hpp"

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 9) {
        return 0;
    }
    const auto family = (data[0] & 1U) != 0 ? memguard::Family::ipv6 : memguard::Family::ipv4;
    memguard::iptc::InputBounds input;
    std::memcpy(&input.first, data + 1, 4);
    std::memcpy(&input.policy, data + 5, 4);
    // Copied so the walker sees exactly the entries, with nothing readable behind them.
    const std::vector<std::uint8_t> entries(data + 9, data + size);
    try {
        (void)memguard::iptc::parse_snapshot(family, entries, input, fake_sets());
    } catch (const memguard::iptc::EntryError&) {
    }
    return 0;
}
