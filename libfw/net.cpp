#include "net.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace memguard {

std::string_view to_string(Protocol p) {
    return p == Protocol::tcp ? "tcp" : "udp";
}

std::string_view to_string(Family f) {
    return f == Family::ipv4 ? "ipv4" : "ipv6";
}

std::array<std::uint8_t, 16> Network::mask() const {
    std::array<std::uint8_t, 16> m{};
    unsigned bits = prefix;
    for (std::size_t i = 0; i < size() && bits > 0; ++i) {
        const unsigned take = bits >= 8 ? 8 : bits;
        m[i] = static_cast<std::uint8_t>(0xFFu << (8 - take));
        bits -= take;
    }
    return m;
}

bool Network::is_loopback() const {
    if (family == Family::ipv4) {
        return addr[0] == 127 && prefix >= 8;
    }
    const std::array<std::uint8_t, 16> one{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return addr == one && prefix == 128;
}

bool Network::has_host_bits() const {
    const auto m = mask();
    for (std::size_t i = 0; i < size(); ++i) {
        if ((addr[i] & ~m[i]) != 0) {
            return true;
        }
    }
    return false;
}

Network Network::canonical() const {
    Network n = *this;
    const auto m = mask();
    for (std::size_t i = 0; i < size(); ++i) {
        n.addr[i] = static_cast<std::uint8_t>(addr[i] & m[i]);
    }
    return n;
}

bool Network::contains(const Network& other) const {
    if (other.family != family || other.prefix < prefix) {
        return false;
    }
    Network narrowed = other;
    narrowed.prefix = prefix;
    return narrowed.canonical().addr == canonical().addr;
}

std::string Network::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == Family::ipv4 ? AF_INET : AF_INET6, addr.data(), buf, sizeof buf);
    std::string out = buf;
    if (prefix != max_prefix()) {
        out += '/' + std::to_string(prefix);
    }
    return out;
}

std::optional<Network> parse_network(std::string_view text) {
    if (text.find('\0') != std::string_view::npos) {
        return std::nullopt; // inet_pton would stop at it and accept a prefix of the text
    }
    const auto slash = text.find('/');
    const std::string address(text.substr(0, slash));
    Network net;
    if (inet_pton(AF_INET, address.c_str(), net.addr.data()) == 1) {
        net.family = Family::ipv4;
    } else if (inet_pton(AF_INET6, address.c_str(), net.addr.data()) == 1) {
        net.family = Family::ipv6;
    } else {
        return std::nullopt;
    }
    net.prefix = net.max_prefix();
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        unsigned prefix = 0;
        const auto* end = digits.data() + digits.size();
        const auto [ptr, ec] = std::from_chars(digits.data(), end, prefix);
        // Digits only: from_chars accepts no sign or space, so "/+8" and "/ 8" fail here too.
        if (digits.empty() || ec != std::errc{} || ptr != end || digits.size() > 3 ||
            prefix > net.max_prefix()) {
            return std::nullopt;
        }
        net.prefix = prefix;
    }
    return net;
}

std::optional<Network> network_from_mask(Family family, const std::uint8_t* addr,
                                         const std::uint8_t* mask) {
    Network net;
    net.family = family;
    bool ended = false;
    for (std::size_t i = 0; i < net.size(); ++i) {
        net.addr[i] = addr[i];
        for (int bit = 7; bit >= 0; --bit) {
            const bool set = ((mask[i] >> bit) & 1u) != 0;
            if (set && ended) {
                return std::nullopt;
            }
            if (set) {
                ++net.prefix;
            } else {
                ended = true;
            }
        }
    }
    return net;
}

} // namespace memguard
