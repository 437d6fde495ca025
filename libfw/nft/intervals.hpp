// An allowlist as the kernel's interval set holds it: sorted, disjoint address ranges, each
// written as a start element and an end element at last address + 1 (flagged
// NFT_SET_ELEM_INTERVAL_END). Pure arithmetic on address bytes; no kernel, no libnftnl.
#pragma once

#include "net.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace memguard::nft {

// Address bytes in network order; IPv4 uses the first 4 (as Network does).
using Address = std::array<std::uint8_t, 16>;

// Both ends included.
struct Range {
    Family family = Family::ipv4;
    Address first{};
    Address last{};
    friend bool operator==(const Range&, const Range&) = default;
};

struct IntervalElement {
    Address key{};
    bool end = false;      // NFT_SET_ELEM_INTERVAL_END: the range before it stops at key - 1
    std::string comment{}; // a start element's label (element userdata), "" when none
    friend bool operator==(const IntervalElement&, const IntervalElement&) = default;
};

std::size_t address_size(Family family);

// The networks of `family` as sorted ranges, overlapping and adjacent ones joined (the kernel
// refuses overlapping intervals). Networks of the other family are ignored; the input may be in
// any order and repeat itself.
std::vector<Range> merged_ranges(Family family, std::span<const Network> networks);

// Sorted, disjoint ranges → the elements to add: a start per range and an end at last + 1, except
// for a range reaching the top of the address space, which has no end.
std::vector<IntervalElement> interval_elements(Family family, std::span<const Range> ranges);

// Elements as the kernel dumps them (any order) → sorted, merged ranges. An end with no start
// before it (nft writes one at address 0) is skipped; a start with no end reaches the top.
std::vector<Range> ranges_from_elements(Family family, std::vector<IntervalElement> elements);

// Labels by the first address of the range they are on: a labelled network's label goes on the
// range that is exactly that network; one merged into a bigger range has nowhere to go.
// `ranges`: one family's, sorted and disjoint (as merged_ranges gives them).
using RangeLabels = std::map<Address, std::string>;
RangeLabels range_labels(std::span<const Range> ranges,
                         const std::map<Network, std::string>& labels);
// The comments on start elements, as the kernel dumps them.
RangeLabels element_labels(std::span<const IntervalElement> elements);

// The fewest CIDR networks that cover exactly `range`.
std::vector<Network> range_networks(const Range& range);
std::vector<Network> range_networks(std::span<const Range> ranges);

// The parts of `from` not covered by `minus` (both sorted and disjoint).
std::vector<Range> subtract(std::span<const Range> from, std::span<const Range> minus);

} // namespace memguard::nft
