// IPv4/IPv6 networks (CIDR) as plain values: parse, print, compare.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memguard {

enum class Family : std::uint8_t { ipv4, ipv6 };
enum class Protocol : std::uint8_t { tcp, udp };

std::string_view to_string(Family f);
std::string_view to_string(Protocol p);

struct Network {
    Family family = Family::ipv4;
    // Address bytes in network order; IPv4 uses the first 4.
    std::array<std::uint8_t, 16> addr{};
    unsigned prefix = 0;

    // Number of address bytes for the family (4 or 16).
    [[nodiscard]] std::size_t size() const { return family == Family::ipv4 ? 4 : 16; }
    [[nodiscard]] unsigned max_prefix() const { return family == Family::ipv4 ? 32 : 128; }
    // The netmask for `prefix`, as address bytes.
    [[nodiscard]] std::array<std::uint8_t, 16> mask() const;
    [[nodiscard]] bool has_host_bits() const;
    // The same network with host bits cleared.
    [[nodiscard]] Network canonical() const;
    [[nodiscard]] bool contains(const Network& other) const;
    // Inside 127.0.0.0/8, or ::1 itself: what arrives on the loopback interface.
    [[nodiscard]] bool is_loopback() const;
    // "192.168.1.0/24", "fd12:3456::/48"; a full-length prefix prints as the bare address.
    [[nodiscard]] std::string to_string() const;

    friend bool operator==(const Network&, const Network&) = default;
    friend auto operator<=>(const Network&, const Network&) = default; // for sorted lookups
};

// Parses "addr" or "addr/prefix" for either family. Host bits are kept as given, so the caller
// can tell the user about them. Returns nullopt for anything else.
std::optional<Network> parse_network(std::string_view text);

// Builds a network from a mask as the kernel stores it (address + netmask bytes); nullopt when
// the mask is not contiguous (cannot be written as a prefix).
std::optional<Network> network_from_mask(Family family, const std::uint8_t* addr,
                                         const std::uint8_t* mask);

} // namespace memguard
