// Internal to libfw/iptc: reading kernel structs out of untrusted bytes, never past their end.
#pragma once

#include "entry.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <string>

namespace memguard::iptc {

// A copy of the T at byte `at` (no alignment needed); EntryError when it does not fit.
template <class T> T read_at(std::span<const std::uint8_t> bytes, std::size_t at) {
    if (at > bytes.size() || bytes.size() - at < sizeof(T)) {
        throw EntryError("entry too short: need " + std::to_string(sizeof(T)) + " bytes at " +
                         std::to_string(at) + ", have " + std::to_string(bytes.size()));
    }
    T value;
    std::memcpy(&value, bytes.data() + at, sizeof(T));
    return value;
}

// The T at the start of `bytes`, or nullopt when they are shorter: for payloads whose size is
// not ours to insist on (other tools' matches, read as far as doctor needs).
template <class T> std::optional<T> read_if(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < sizeof(T)) {
        return std::nullopt;
    }
    T value;
    std::memcpy(&value, bytes.data(), sizeof(T));
    return value;
}

// A fixed-size name field up to its first NUL, or all of it when there is none.
inline std::string bounded_name(const char* name, std::size_t max) {
    return {name, static_cast<std::size_t>(std::find(name, name + max, '\0') - name)};
}

} // namespace memguard::iptc
