#include "network_index.hpp"

#include <algorithm>
#include <tuple>

namespace memguard {

namespace {

using Bytes = std::array<std::uint8_t, 16>;

// All 16 bytes: an IPv4 mask is zero past its 4th byte, which clears whatever lies there.
Bytes masked(const Bytes& addr, const Bytes& mask) {
    Bytes out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = static_cast<std::uint8_t>(addr[i] & mask[i]);
    }
    return out;
}

} // namespace

NetworkIndex::NetworkIndex(std::span<const Network> networks) {
    std::vector<Network> sorted;
    sorted.reserve(networks.size());
    for (const auto& n : networks) {
        Network c = n;
        c.addr = masked(n.addr, n.mask());
        sorted.push_back(c);
    }
    // Family and prefix first, so each group is one run of the sorted list.
    std::sort(sorted.begin(), sorted.end(), [](const Network& a, const Network& b) {
        return std::tie(a.family, a.prefix, a.addr) < std::tie(b.family, b.prefix, b.addr);
    });
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    size_ = sorted.size();

    for (const auto& n : sorted) {
        if (groups_.empty() || groups_.back().family != n.family ||
            groups_.back().prefix != n.prefix) {
            groups_.push_back(Group{n.family, n.prefix, n.mask(), {}});
        }
        groups_.back().addresses.push_back(n.addr);
    }
}

bool NetworkIndex::contains(const Network& host) const {
    return std::any_of(groups_.begin(), groups_.end(), [&](const Group& group) {
        return group.family == host.family && group.prefix <= host.prefix &&
               std::binary_search(group.addresses.begin(), group.addresses.end(),
                                  masked(host.addr, group.mask));
    });
}

} // namespace memguard
