// Any bytes handed to the entry decoders → a rule, "not ours", or an EntryError; never a read
// outside the bytes (ASan checks that). Both readers of the one entry walker (entry_walk.hpp)
// get the bytes: ours (decode_entry) and doctor's for foreign rules (decode_foreign_entry), and
// they agree on which entries are well formed. A decoded rule must encode back to an entry that
// decodes to the same rule.
#include "fake_sets.hpp"
#include "legacy/iptc/entry.hpp"
#include "legacy/iptc/foreign_rules.hpp"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static constexpr std::array<const char*, 7> targets{"ACCEPT", "DROP",   "MEMGUARD", "REJECT",
                                                        "NFLOG",  "RETURN", ""};
    if (size < 2) {
        return 0;
    }
    const auto family = (data[0] & 1U) != 0 ? memguard::Family::ipv6 : memguard::Family::ipv4;
    const char* target = targets[data[1] % targets.size()];
    // Copied so the decoder sees exactly `size - 2` bytes, with nothing readable behind them.
    const std::vector<std::uint8_t> bytes(data + 2, data + size);
    bool foreign_ok = false;
    try {
        (void)memguard::iptc::decode_foreign_entry(family, "FORWARD", bytes);
        foreign_ok = true;
    } catch (const memguard::iptc::EntryError&) {
    }
    try {
        const auto sets = fake_sets();
        const auto decoded = memguard::iptc::decode_entry(family, bytes, target, sets);
        if (decoded.rule) {
            const auto again = memguard::iptc::encode_entry(*decoded.rule, sets);
            const auto round = memguard::iptc::decode_entry(family, again.bytes(), target, sets);
            if (!round.rule || !(*round.rule == *decoded.rule)) {
                std::abort();
            }
        }
        if (!foreign_ok) { // what we decode as ours, the foreign reader must read too
            std::abort();
        }
    } catch (const memguard::iptc::EntryError&) {
    }
    return 0;
}
