// How big a new hash:net set is made for the members it is about to hold (see Ipset::create).
#include "ipset_wire.hpp"

#include <algorithm>
#include <limits>

namespace memguard::netlink::ipset_wire {

namespace {

constexpr std::size_t kMinMaxelem = 65536;
constexpr std::size_t kMinHashsize = 1024;
constexpr std::size_t kMaxHashsize = std::size_t{1} << 24;

} // namespace

std::uint32_t maxelem_for(std::size_t count) {
    const std::size_t wanted = count > std::numeric_limits<std::uint32_t>::max() / 2
                                   ? std::numeric_limits<std::uint32_t>::max()
                                   : std::max(kMinMaxelem, 2 * count);
    return static_cast<std::uint32_t>(wanted);
}

std::uint32_t hashsize_for(std::size_t count) {
    std::size_t size = kMinHashsize;
    while (size < count && size < kMaxHashsize) {
        size *= 2;
    }
    return static_cast<std::uint32_t>(size);
}

} // namespace memguard::netlink::ipset_wire
