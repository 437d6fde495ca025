#include "intervals.hpp"

#include <algorithm>
#include <bit>

namespace memguard::nft {

namespace {

bool less(const Address& a, const Address& b, std::size_t size) {
    return std::lexicographical_compare(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(size),
                                        b.begin(), b.begin() + static_cast<std::ptrdiff_t>(size));
}

// a + 1; false when a was the top of the address space (then a is left at all zeros).
bool increment(Address& a, std::size_t size) {
    for (std::size_t i = size; i-- > 0;) {
        if (++a[i] != 0) {
            return true;
        }
    }
    return false;
}

void decrement(Address& a, std::size_t size) {
    for (std::size_t i = size; i-- > 0;) {
        if (a[i]-- != 0) {
            return;
        }
    }
}

// `a` with every bit after the first `prefix` set to `one`.
Address fill_host_bits(Address a, unsigned prefix, std::size_t size, bool one) {
    for (std::size_t bit = prefix; bit < size * 8; ++bit) {
        const auto mask = static_cast<std::uint8_t>(0x80U >> (bit % 8));
        a[bit / 8] = static_cast<std::uint8_t>(one ? (a[bit / 8] | mask) : (a[bit / 8] & ~mask));
    }
    return a;
}

unsigned trailing_zero_bits(const Address& a, std::size_t size) {
    unsigned n = 0;
    for (std::size_t i = size; i-- > 0;) {
        if (a[i] != 0) {
            return n + static_cast<unsigned>(std::countr_zero(a[i]));
        }
        n += 8;
    }
    return n;
}

bool is_top(const Address& a, std::size_t size) {
    return std::all_of(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(size),
                       [](std::uint8_t b) { return b == 0xFF; });
}

// Joins sorted ranges that overlap or touch.
std::vector<Range> join(const std::vector<Range>& sorted, std::size_t size) {
    std::vector<Range> out;
    for (const Range& r : sorted) {
        if (!out.empty()) {
            Address after = out.back().last;
            const bool top = !increment(after, size);
            if (top || !less(after, r.first, size)) { // overlaps or is adjacent
                if (less(out.back().last, r.last, size)) {
                    out.back().last = r.last;
                }
                continue;
            }
        }
        out.push_back(r);
    }
    return out;
}

} // namespace

std::size_t address_size(Family family) {
    return family == Family::ipv4 ? 4 : 16;
}

std::vector<Range> merged_ranges(Family family, std::span<const Network> networks) {
    const std::size_t size = address_size(family);
    std::vector<Range> ranges;
    for (const Network& n : networks) {
        if (n.family != family) {
            continue;
        }
        const Network c = n.canonical();
        ranges.push_back({family, c.addr, fill_host_bits(c.addr, c.prefix, size, true)});
    }
    std::sort(ranges.begin(), ranges.end(),
              [size](const Range& a, const Range& b) { return less(a.first, b.first, size); });
    return join(ranges, size);
}

std::vector<IntervalElement> interval_elements(Family family, std::span<const Range> ranges) {
    const std::size_t size = address_size(family);
    std::vector<IntervalElement> out;
    out.reserve(ranges.size() * 2);
    for (const Range& r : ranges) {
        out.push_back({r.first, false});
        Address end = r.last;
        if (increment(end, size)) {
            out.push_back({end, true});
        }
    }
    return out;
}

std::vector<Range> ranges_from_elements(Family family, std::vector<IntervalElement> elements) {
    const std::size_t size = address_size(family);
    // At one address an end sorts before a start: [a, b) followed by [b, c) touches, not overlaps.
    std::sort(elements.begin(), elements.end(),
              [size](const IntervalElement& a, const IntervalElement& b) {
                  if (a.key == b.key) {
                      return a.end && !b.end;
                  }
                  return less(a.key, b.key, size);
              });
    std::vector<Range> ranges;
    bool open = false;
    Address start{};
    for (const IntervalElement& e : elements) {
        if (open) {
            Address last = e.key;
            decrement(last, size);
            ranges.push_back({family, start, last});
            open = false;
        }
        if (!e.end) {
            open = true;
            start = e.key;
        }
    }
    if (open) {
        ranges.push_back({family, start, fill_host_bits(start, 0, size, true)});
    }
    return join(ranges, size);
}

RangeLabels range_labels(std::span<const Range> ranges,
                         const std::map<Network, std::string>& labels) {
    RangeLabels out;
    for (const auto& [network, label] : labels) {
        const auto one = merged_ranges(network.family, std::span(&network, 1));
        if (one.size() != 1) {
            continue;
        }
        // Sorted and disjoint: the one range that can be `one` is the first not below it.
        const std::size_t size = address_size(network.family);
        const auto at = std::ranges::lower_bound(
            ranges, one[0].first, [size](const auto& a, const auto& b) { return less(a, b, size); },
            &Range::first);
        if (at != ranges.end() && *at == one[0]) {
            out[one[0].first] = label;
        }
    }
    return out;
}

RangeLabels element_labels(std::span<const IntervalElement> elements) {
    RangeLabels out;
    for (const IntervalElement& e : elements) {
        if (!e.end && !e.comment.empty()) {
            out[e.key] = e.comment;
        }
    }
    return out;
}

std::vector<Network> range_networks(const Range& range) {
    const std::size_t size = address_size(range.family);
    const auto bits = static_cast<unsigned>(size * 8);
    std::vector<Network> out;
    Address first = range.first;
    while (!less(range.last, first, size)) {
        // The widest block starting at `first` is bounded by its trailing zero bits, then
        // narrowed until it ends within the range.
        unsigned prefix = bits - trailing_zero_bits(first, size);
        while (prefix < bits && less(range.last, fill_host_bits(first, prefix, size, true), size)) {
            ++prefix;
        }
        Network n;
        n.family = range.family;
        n.addr = first;
        n.prefix = prefix;
        out.push_back(n);
        const Address last = fill_host_bits(first, prefix, size, true);
        if (is_top(last, size)) {
            break;
        }
        first = last;
        increment(first, size);
    }
    return out;
}

std::vector<Network> range_networks(std::span<const Range> ranges) {
    std::vector<Network> out;
    for (const Range& r : ranges) {
        const auto part = range_networks(r);
        out.insert(out.end(), part.begin(), part.end());
    }
    return out;
}

std::vector<Range> subtract(std::span<const Range> from, std::span<const Range> minus) {
    std::vector<Range> out;
    std::size_t first_overlap = 0; // both lists are sorted: one merge-like pass, not n × m
    for (const Range& r : from) {
        const std::size_t size = address_size(r.family);
        while (first_overlap < minus.size() && less(minus[first_overlap].last, r.first, size)) {
            ++first_overlap;
        }
        Address cursor = r.first;
        bool done = false;
        for (std::size_t k = first_overlap; k < minus.size() && !done; ++k) {
            const Range& m = minus[k];
            if (less(r.last, m.first, size)) {
                break;
            }
            if (less(cursor, m.first, size)) {
                Address before = m.first;
                decrement(before, size);
                out.push_back({r.family, cursor, before});
            }
            cursor = m.last;
            done = !increment(cursor, size) || less(r.last, cursor, size);
        }
        if (!done) {
            out.push_back({r.family, cursor, r.last});
        }
    }
    return out;
}

} // namespace memguard::nft
