#include "entry_walk.hpp"

#include "bytes.hpp"
#include "entry_layout.hpp"

namespace memguard::iptc {

namespace {

// The header's offsets, once they leave room for it and a target and end where `bytes` do.
template <class Entry> EntryWalk read_offsets(std::span<const std::uint8_t> bytes) {
    const auto e = read_at<Entry>(bytes, 0);
    const std::size_t target_offset = e.target_offset;
    const std::size_t next_offset = e.next_offset;
    if (next_offset != bytes.size() || target_offset < sizeof(Entry) ||
        target_offset > next_offset || next_offset - target_offset < sizeof(xt_entry_target)) {
        throw EntryError("entry offsets inconsistent: target_offset " +
                         std::to_string(e.target_offset) + ", next_offset " +
                         std::to_string(e.next_offset) + ", size " + std::to_string(bytes.size()));
    }
    EntryWalk walk;
    walk.target_offset = target_offset;
    walk.next_offset = next_offset;
    return walk;
}

// The matches from `first` up to the target, each wholly before it.
void read_matches(std::span<const std::uint8_t> bytes, std::size_t first, EntryWalk& walk) {
    std::size_t at = first;
    while (at < walk.target_offset) {
        const auto m = read_at<xt_entry_match>(bytes, at);
        const std::size_t size = m.u.user.match_size;
        if (size < sizeof(xt_entry_match) || size > walk.target_offset - at) {
            throw EntryError("match at offset " + std::to_string(at) + " has size " +
                             std::to_string(size) + ", past the target at " +
                             std::to_string(walk.target_offset));
        }
        walk.matches.push_back({bounded_name(m.u.user.name, sizeof m.u.user.name),
                                m.u.user.revision, at, size,
                                bytes.subspan(at + sizeof m, size - sizeof m)});
        at += size;
    }
}

// The target at target_offset, wholly inside the entry (the kernel lets it end before).
void read_target(std::span<const std::uint8_t> bytes, EntryWalk& walk) {
    const auto t = read_at<xt_entry_target>(bytes, walk.target_offset);
    const std::size_t size = t.u.user.target_size;
    if (size < sizeof(xt_entry_target) || size > walk.next_offset - walk.target_offset) {
        throw EntryError("target at offset " + std::to_string(walk.target_offset) + " has size " +
                         std::to_string(size) + ", past the entry's end at " +
                         std::to_string(walk.next_offset));
    }
    walk.target = {bounded_name(t.u.user.name, sizeof t.u.user.name), t.u.user.revision,
                   walk.target_offset, size,
                   bytes.subspan(walk.target_offset + sizeof t, size - sizeof t)};
}

template <class Entry> EntryWalk walk(std::span<const std::uint8_t> bytes) {
    EntryWalk out = read_offsets<Entry>(bytes);
    read_matches(bytes, sizeof(Entry), out);
    read_target(bytes, out);
    return out;
}

} // namespace

EntryWalk walk_entry(Family family, std::span<const std::uint8_t> bytes) {
    return family == Family::ipv4 ? walk<ipt_entry>(bytes) : walk<ip6t_entry>(bytes);
}

} // namespace memguard::iptc
