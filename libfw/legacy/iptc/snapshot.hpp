// A read of one family's filter and mangle tables without libiptc and without the xtables lock:
// the kernel's own copy of each table (IPT_SO_GET_INFO + IPT_SO_GET_ENTRIES), walked for INPUT
// and MEMGUARD (mangle: MEMGUARD, FORWARD, PREROUTING) only and decoded as Table::read() and
// Table::read_mangle() decode them.
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

// The table's entries exactly as the kernel copied them out, and where its built-in chains lie
// in them (mangle has all five hooks; filter has no PREROUTING, and its bounds stay zero).
struct RawTable {
    std::vector<std::uint64_t> words; // 8-byte aligned, as the entries' counters need
    std::size_t offset = 0;           // where in `words` the entries start, in bytes
    std::size_t size = 0;             // bytes of entries
    InputBounds input;
    InputBounds forward;
    InputBounds prerouting;
    [[nodiscard]] std::span<const std::uint8_t> entries() const {
        return {reinterpret_cast<const std::uint8_t*>(words.data()) + offset, size};
    }
};

// Copies the table ("filter" or "mangle") out of the kernel. Throws LegacyTablesMissing or
// KernelError.
RawTable read_raw(Family family, const char* table = "filter");

// read_raw + parse_snapshot, and read_raw("mangle") + parse_mangle_snapshot when the kernel has
// a mangle table for the family.
KernelView read_snapshot(Family family);

// Walks `entries` (the bytes IPT_SO_GET_ENTRIES returned) as the kernel lays them out; set
// matches are named through `sets`. Never reads outside `entries`; throws EntryError when
// offsets or sizes are inconsistent.
KernelView parse_snapshot(Family family, std::span<const std::uint8_t> entries, InputBounds input,
                          const SetNames& sets = {});

// The same for a mangle table's MEMGUARD, FORWARD and PREROUTING.
MangleView parse_mangle_snapshot(Family family, std::span<const std::uint8_t> entries,
                                 InputBounds forward, InputBounds prerouting,
                                 const SetNames& sets = {});

// The error for a table that cannot be read: LegacyTablesMissing when the kernel has no legacy
// table for the family, KernelError otherwise. `reason` is the errno's text.
[[noreturn]] void throw_read_error(Family family, int error, const std::string& reason,
                                   const char* table = "filter");

} // namespace memguard::iptc
