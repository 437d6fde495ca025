#include "network_index.hpp"

#include <algorithm>

namespace memguard {

NetworkIndex::Key NetworkIndex::key_of(const std::array<std::uint8_t, 16>& bytes) {
    Key k;
    for (std::size_t i = 0; i < 8; ++i) {
        k.hi = (k.hi << 8) | bytes[i];
        k.lo = (k.lo << 8) | bytes[i + 8];
    }
    return k;
}

std::array<std::uint8_t, 16> NetworkIndex::bytes_of(const Key& k) {
    std::array<std::uint8_t, 16> bytes{};
    for (std::size_t i = 0; i < 8; ++i) {
        bytes[7 - i] = static_cast<std::uint8_t>(k.hi >> (8 * i));
        bytes[15 - i] = static_cast<std::uint8_t>(k.lo >> (8 * i));
    }
    return bytes;
}

NetworkIndex::NetworkIndex(std::span<const Network> networks) {
    struct Entry {
        Family family;
        unsigned prefix;
        Key key;
        auto operator<=>(const Entry&) const = default;
    };
    std::vector<Entry> entries;
    entries.reserve(networks.size());
    for (const auto& n : networks) {
        entries.push_back({n.family, n.prefix, masked(key_of(n.addr), key_of(n.mask()))});
    }
    // Family and prefix first, so each group is one run of the sorted list.
    std::sort(entries.begin(), entries.end());
    entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
    size_ = entries.size();

    for (const auto& e : entries) {
        if (groups_.empty() || groups_.back().family != e.family ||
            groups_.back().prefix != e.prefix) {
            Network n;
            n.family = e.family;
            n.prefix = e.prefix;
            groups_.push_back(Group{e.family, e.prefix, key_of(n.mask()), {}});
        }
        groups_.back().keys.push_back(e.key);
    }
}

bool NetworkIndex::contains(const Network& host) const {
    const Key key = key_of(host.addr);
    return std::any_of(groups_.begin(), groups_.end(), [&](const Group& group) {
        return group.family == host.family && group.prefix <= host.prefix &&
               std::binary_search(group.keys.begin(), group.keys.end(), masked(key, group.mask));
    });
}

// Groups are sorted by prefix within a family: the first match from the back is the narrowest.
std::optional<Network> NetworkIndex::most_specific(const Network& host) const {
    const Key key = key_of(host.addr);
    for (auto group = groups_.rbegin(); group != groups_.rend(); ++group) {
        const Key wanted = masked(key, group->mask);
        if (group->family == host.family && group->prefix <= host.prefix &&
            std::binary_search(group->keys.begin(), group->keys.end(), wanted)) {
            return Network{
                .family = group->family, .addr = bytes_of(wanted), .prefix = group->prefix};
        }
    }
    return std::nullopt;
}

} // namespace memguard
