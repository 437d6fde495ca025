// Rule ↔ ipt_entry / ip6t_entry bytes, both directions. The only place that knows their layout.
#pragma once

#include "../rule.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace memguard::iptc {

// One table entry, 8-byte aligned as the kernel's structs need, counters zeroed.
class EntryBytes {
public:
    explicit EntryBytes(std::size_t size) : words_((size + 7) / 8, 0), size_(size) {}
    [[nodiscard]] std::uint8_t* data() { return reinterpret_cast<std::uint8_t*>(words_.data()); }
    [[nodiscard]] const std::uint8_t* data() const {
        return reinterpret_cast<const std::uint8_t*>(words_.data());
    }
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] std::span<const std::uint8_t> bytes() const { return {data(), size_}; }

private:
    std::vector<std::uint64_t> words_;
    std::size_t size_;
};

// Set names and the kernel's set indexes, both ways: an xt_set match stores the index.
struct SetNames {
    std::function<std::optional<std::uint16_t>(const std::string&)> index_of;
    std::function<std::optional<std::string>(std::uint16_t)> name_of;
};

// ipset's own lookups (getsockopt SO_IP_SET), each answer kept for the life of the returned
// object: make one per read or commit.
SetNames kernel_set_names();

// Builds the entry for `rule` exactly as iptables-legacy would for the same rule-spec, so that
// `iptables-legacy -C` finds it. Jumps name the chain; libiptc resolves it on insert. A rule
// with `src_set` needs `sets` to find the set's index (EntryError when there is no such set).
EntryBytes encode_entry(const Rule& rule, const SetNames& sets = {});

class EntryError : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct DecodedEntry {
    std::optional<Rule> rule; // nullopt: uses something memguardd never writes
    std::string comment;      // the comment match's text, if there is one
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
};

// Reads one entry of `family` from `bytes` (exactly next_offset long). `target` is the target's
// name as libiptc reports it (ACCEPT, DROP, a chain name, a module name). An xt_set match is
// named through `sets`; without them, or for an index with no set, the rule is not ours. Never
// reads outside `bytes`; throws EntryError when the entry's own offsets and sizes are
// inconsistent.
DecodedEntry decode_entry(Family family, std::span<const std::uint8_t> bytes,
                          std::string_view target, const SetNames& sets = {});

} // namespace memguard::iptc
