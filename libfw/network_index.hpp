// "Is this address inside any of these networks?" for large lists (an allowlist of 100,000
// networks is asked once per conntrack entry). Networks are grouped by family and prefix length,
// each group a sorted array of canonical addresses: a lookup masks the address to each group's
// prefix and binary-searches, O(P log N) for P distinct prefix lengths.
#pragma once

#include "net.hpp"

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace memguard {

class NetworkIndex {
public:
    NetworkIndex() = default;
    // Host bits are ignored (10.1.2.3/8 indexes as 10.0.0.0/8); duplicates are kept once.
    explicit NetworkIndex(std::span<const Network> networks);

    // True when one of the networks contains `host`, as Network::contains says: same family,
    // and `host` (an address, or a network no wider than it) lies inside.
    [[nodiscard]] bool contains(const Network& host) const;
    // The narrowest of the networks that contains `host` (canonical: host bits cleared), or
    // nullopt when none does.
    [[nodiscard]] std::optional<Network> most_specific(const Network& host) const;

    // Distinct networks indexed.
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] bool empty() const { return size_ == 0; }

private:
    // The 16 address bytes as two big-endian integers: ordered as the bytes are, and masked or
    // compared in two instructions each rather than sixteen.
    struct Key {
        std::uint64_t hi = 0;
        std::uint64_t lo = 0;
        auto operator<=>(const Key&) const = default;
    };
    static Key key_of(const std::array<std::uint8_t, 16>& bytes);
    static std::array<std::uint8_t, 16> bytes_of(const Key& k);
    // An IPv4 mask is zero past its 4th byte, which clears whatever an address holds there.
    static Key masked(const Key& k, const Key& mask) { return {k.hi & mask.hi, k.lo & mask.lo}; }

    // One family and prefix length: its networks' canonical addresses, sorted, unique.
    struct Group {
        Family family = Family::ipv4;
        unsigned prefix = 0;
        Key mask;
        std::vector<Key> keys;
    };

    std::vector<Group> groups_; // by family, then prefix
    std::size_t size_ = 0;
};

} // namespace memguard
