#include "duration.hpp"

#include <array>
#include <cctype>
#include <cstdint>

namespace memguard {

namespace {

struct Unit {
    std::string_view name;
    std::int64_t microseconds;
};

constexpr std::int64_t second_us = 1'000'000;
constexpr std::int64_t minute_us = 60 * second_us;
constexpr std::int64_t hour_us = 60 * minute_us;
constexpr std::int64_t day_us = 24 * hour_us;

// systemd.time(7)'s spellings; a month is 30.44 days and a year 365.25 days, as there.
constexpr std::array units{
    Unit{"usec", 1},
    Unit{"us", 1},
    Unit{"\xC2\xB5s", 1}, // µs
    Unit{"msec", 1000},
    Unit{"ms", 1000},
    Unit{"seconds", second_us},
    Unit{"second", second_us},
    Unit{"sec", second_us},
    Unit{"s", second_us},
    Unit{"minutes", minute_us},
    Unit{"minute", minute_us},
    Unit{"min", minute_us},
    Unit{"m", minute_us},
    Unit{"hours", hour_us},
    Unit{"hour", hour_us},
    Unit{"hr", hour_us},
    Unit{"h", hour_us},
    Unit{"days", day_us},
    Unit{"day", day_us},
    Unit{"d", day_us},
    Unit{"weeks", 7 * day_us},
    Unit{"week", 7 * day_us},
    Unit{"w", 7 * day_us},
    Unit{"months", 2'629'800 * second_us},
    Unit{"month", 2'629'800 * second_us},
    Unit{"M", 2'629'800 * second_us},
    Unit{"years", 31'557'600 * second_us},
    Unit{"year", 31'557'600 * second_us},
    Unit{"y", 31'557'600 * second_us},
};

bool is_digit(char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
}
bool is_space(char c) {
    return c == ' ' || c == '\t';
}

std::string quoted(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

constexpr std::int64_t max_us = max_duration.count() * second_us;

[[noreturn]] void too_long(std::string_view whole) {
    throw DurationError(quoted(whole) + " is longer than " + format_duration(max_duration) +
                        "; what is allowed for longer belongs in the config");
}

// A run of digits at `text`'s start, taken off it.
std::string_view take_digits(std::string_view& text) {
    std::size_t n = 0;
    while (n < text.size() && is_digit(text[n])) {
        ++n;
    }
    const std::string_view digits = text.substr(0, n);
    text.remove_prefix(n);
    return digits;
}

// The number `digits` times `per`, which must stay within max_duration.
std::int64_t digits_value(std::string_view digits, std::int64_t per, std::string_view whole) {
    std::int64_t value = 0;
    for (const char c : digits) {
        value = value * 10 + (c - '0');
        if (value > max_us / per) {
            too_long(whole);
        }
    }
    return value * per;
}

// The unit at `text`'s start (letters, or µ), taken off it.
const Unit& take_unit(std::string_view& text, std::string_view number, std::string_view whole) {
    std::size_t n = 0;
    while (n < text.size() && !is_space(text[n]) && !is_digit(text[n]) && text[n] != '.') {
        ++n;
    }
    const std::string_view name = text.substr(0, n);
    text.remove_prefix(n);
    for (const auto& unit : units) {
        if (unit.name == name) {
            if (unit.microseconds < second_us) {
                throw DurationError(quoted(whole) + ": " + quoted(name) +
                                    " is below one second; a temporary entry lasts any length "
                                    "from one second up");
            }
            return unit;
        }
    }
    throw DurationError(quoted(whole) + ": unknown unit " + quoted(name) + " after " +
                        quoted(number) +
                        " (use s, min, h, d, w, M or y, or their long names: 15min, 2h, 1d)");
}

// One "NUMBER[UNIT]" at `text`'s start, in microseconds, taken off it.
std::int64_t take_part(std::string_view& text, std::string_view whole) {
    const std::string_view start = text;
    const std::string_view integer = take_digits(text);
    std::string_view fraction;
    if (!text.empty() && text.front() == '.') {
        text.remove_prefix(1);
        fraction = take_digits(text);
    }
    const std::string_view number = start.substr(0, start.size() - text.size());
    if (integer.empty() && fraction.empty()) {
        const std::string_view rest = start.substr(0, start.find_first_of(" \t"));
        throw DurationError(quoted(whole) + ": " + quoted(rest) + " does not start with a number");
    }
    while (!text.empty() && is_space(text.front())) {
        text.remove_prefix(1); // "5 min" is "5min"
    }
    const bool bare = text.empty() || is_digit(text.front());
    const std::int64_t per = bare ? second_us : take_unit(text, number, whole).microseconds;
    std::int64_t value = digits_value(integer, per, whole);
    std::int64_t scale = per;
    for (const char c : fraction.substr(0, 6)) { // below a microsecond of a year is nothing
        scale /= 10;
        value += (c - '0') * scale;
    }
    return value;
}

} // namespace

std::chrono::seconds parse_duration(std::string_view text) {
    const std::string_view whole = text;
    std::int64_t total = 0;
    for (;;) {
        while (!text.empty() && is_space(text.front())) {
            text.remove_prefix(1);
        }
        if (text.empty()) {
            break;
        }
        total += take_part(text, whole);
        if (total > max_us) {
            too_long(whole);
        }
    }
    if (whole.find_first_not_of(" \t") == std::string_view::npos) {
        throw DurationError("no length of time given (e.g. 90s, 15min, 2h, 1d, 1h 30min)");
    }
    if (total < second_us) {
        throw DurationError(quoted(whole) +
                            " is shorter than one second; a temporary entry lasts any length "
                            "from one second up");
    }
    if (total % second_us != 0) {
        throw DurationError(quoted(whole) + " is not a whole number of seconds");
    }
    return std::chrono::seconds(total / second_us);
}

std::string format_duration(std::chrono::seconds length) {
    std::int64_t left = length.count();
    std::string out;
    const std::pair<std::string_view, std::int64_t> parts[] = {
        {"d", 86400}, {"h", 3600}, {"min", 60}, {"s", 1}};
    for (const auto& [name, size] : parts) {
        if (left >= size) {
            out.append(out.empty() ? "" : " ").append(std::to_string(left / size)).append(name);
            left %= size;
        }
    }
    return out.empty() ? "0s" : out;
}

} // namespace memguard
