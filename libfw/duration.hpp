// Lengths of time as systemd spells them (systemd.time(7)): "90s", "15min", "2h", "1d",
// "1h 30min", "1h30min", "1.5h". For how long a temporary allowlist entry lasts.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

namespace memguard {

// The longest temporary entry: what is meant for longer belongs in the config.
inline constexpr std::chrono::seconds max_duration{std::chrono::days{366}};

class DurationError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Parses a time span: numbers (a decimal fraction allowed), each followed by a unit (us, ms, s,
// min, h, d, w, M, y and their long spellings); a bare number is seconds. The whole must be a
// whole number of seconds from 1 s to max_duration; us and ms are refused (below one second).
// Throws DurationError naming what was wrong ("\"5x\": unknown unit \"x\"").
std::chrono::seconds parse_duration(std::string_view text);

// "1d 2h 30min 5s", "0s": the largest units first (d, h, min, s), as systemd prints spans.
std::string format_duration(std::chrono::seconds length);

} // namespace memguard
