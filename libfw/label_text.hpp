// What the text of an allowlist entry's label may be. A label goes into kernel comments, journal
// fields, metrics and the terminal of whoever reads them, so it must show what it says: no
// control characters, no invisible or text-reordering format characters (a bidi override such as
// U+202E can make a label read as something else), and no quotes or backslashes, which `nft
// list` and iptables-save print unescaped.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace memguard {

inline constexpr std::size_t max_label_bytes = 100;

// What is wrong with `text` as a label, e.g. "holds U+202E, a Unicode format character"; nullopt
// when it is a good one: 1 to max_label_bytes bytes of UTF-8 without control (Cc) or format (Cf)
// characters, quotes or backslashes.
std::optional<std::string> label_problem(std::string_view text);

} // namespace memguard
