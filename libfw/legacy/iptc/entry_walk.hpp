// The one reader of an x_tables entry's layout: the ipt_entry / ip6t_entry header, the matches
// after it and the target at target_offset. Used for our own rules (entry_decode.cpp) and for
// every rule of another tool that `memguardd doctor` reads (foreign_rules.cpp). Each offset and
// size is checked against the entry before anything is read through it, as the kernel's
// xt_check_entry_offsets does: the matches fill the bytes from the header to the target exactly,
// the target lies wholly inside the entry.
#pragma once

#include "../tables.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace memguard::iptc {

// One match or the target.
struct EntryPart {
    std::string name; // up to its NUL
    std::uint8_t revision = 0;
    std::size_t offset = 0;             // of its xt_entry_match / xt_entry_target in the entry
    std::size_t size = 0;               // match_size / target_size, header included
    std::span<const std::uint8_t> data; // its payload, after the header
};

struct EntryWalk {
    std::size_t target_offset = 0;
    std::size_t next_offset = 0; // the size of the entry
    std::vector<EntryPart> matches;
    EntryPart target;
};

// `bytes`: one entry of `family`, exactly next_offset long. Throws EntryError naming the offset
// or size that does not fit; never reads outside `bytes`.
EntryWalk walk_entry(Family family, std::span<const std::uint8_t> bytes);

} // namespace memguard::iptc
