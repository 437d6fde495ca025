// A read of one family's filter table without libiptc and without the xtables lock: the
// kernel's own copy of the table (IPT_SO_GET_INFO + IPT_SO_GET_ENTRIES), walked for INPUT and
// MEMGUARD only and decoded as Table::read() decodes them.
//
// The kernel copies the table under its own mutex, so the copy is always one consistent
// table and needs no lock; only a read that is followed by a commit does (see lock.hpp). A
// verify pass that finds nothing to repair is therefore one getsockopt pair per family, with
// no parse of the thousands of foreign rules a busy host may hold.
#pragma once

#include "../tables.hpp"
#include "entry.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace memguard::iptc {

// Where the INPUT chain lies in the entries: the byte offsets of its first rule and of its
// policy entry (the kernel's hook_entry and underflow for NF_INET_LOCAL_IN).
struct InputBounds {
    std::uint32_t first = 0;
    std::uint32_t policy = 0;
};

// The table's entries exactly as the kernel copied them out, and where INPUT lies in them.
struct RawTable {
    std::vector<std::uint64_t> words; // 8-byte aligned, as the entries' counters need
    std::size_t offset = 0;           // where in `words` the entries start, in bytes
    std::size_t size = 0;             // bytes of entries
    InputBounds input;
    [[nodiscard]] std::span<const std::uint8_t> entries() const {
        return {reinterpret_cast<const std::uint8_t*>(words.data()) + offset, size};
    }
};

// Copies the table out of the kernel. Throws LegacyTablesMissing or KernelError.
RawTable read_raw(Family family);

// read_raw + parse_snapshot.
KernelView read_snapshot(Family family);

// Walks `entries` (the bytes IPT_SO_GET_ENTRIES returned) as the kernel lays them out; set
// matches are named through `sets`. Never reads outside `entries`; throws EntryError when
// offsets or sizes are inconsistent.
KernelView parse_snapshot(Family family, std::span<const std::uint8_t> entries, InputBounds input,
                          const SetNames& sets = {});

// The error for a table that cannot be read: LegacyTablesMissing when the kernel has no legacy
// table for the family, KernelError otherwise. `reason` is the errno's text.
[[noreturn]] void throw_read_error(Family family, int error, const std::string& reason);

} // namespace memguard::iptc
