#include "label_text.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>

namespace memguard {

namespace {

struct CodeRange {
    char32_t first;
    char32_t last;
};

// tests/schema/gen_schema.py reads these two tables into the schema's label pattern: one
// {0xFIRST, 0xLAST} per range, upper-case hex.

// Unicode's general category Cc (control): C0, DEL and C1.
constexpr std::array<CodeRange, 2> control_chars{{{0x0000, 0x001F}, {0x007F, 0x009F}}};

// Unicode's general category Cf (format), as UnicodeData.txt of Unicode 15.1 lists it: soft
// hyphen, Arabic and Syriac marks, zero-width characters, bidi embeddings, overrides and
// isolates, invisible operators, the byte order mark, interlinear annotation, Kaithi, Egyptian
// hieroglyph, shorthand and musical format controls, and the tag characters.
constexpr std::array<CodeRange, 21> format_chars{{
    {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},   {0x06DD, 0x06DD},
    {0x070F, 0x070F},   {0x0890, 0x0891},   {0x08E2, 0x08E2},   {0x180E, 0x180E},
    {0x200B, 0x200F},   {0x202A, 0x202E},   {0x2060, 0x2064},   {0x2066, 0x206F},
    {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD},
    {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
    {0xE0020, 0xE007F},
}};

template <std::size_t N> bool in(const std::array<CodeRange, N>& ranges, char32_t c) {
    return std::ranges::any_of(ranges,
                               [c](const CodeRange& r) { return c >= r.first && c <= r.last; });
}

std::string code_point_name(char32_t c) {
    std::array<char, 16> out{};
    std::snprintf(out.data(), out.size(), "U+%04X", static_cast<unsigned>(c));
    return out.data();
}

// The code point at `at`, advancing `at` past it; nullopt for bytes that are not UTF-8 (a stray
// continuation byte, a truncated sequence, an overlong form, a surrogate, past U+10FFFF).
std::optional<char32_t> next_code_point(std::string_view text, std::size_t& at) {
    const auto lead = static_cast<unsigned char>(text[at]);
    const std::size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if ((lead >= 0x80 && lead < 0xC2) || lead > 0xF4 || text.size() - at < length) {
        return std::nullopt;
    }
    constexpr std::array<unsigned char, 5> lead_bits{0, 0x7F, 0x1F, 0x0F, 0x07};
    char32_t c = lead & lead_bits[length];
    for (std::size_t i = 1; i < length; ++i) {
        const auto next = static_cast<unsigned char>(text[at + i]);
        if ((next & 0xC0) != 0x80) {
            return std::nullopt;
        }
        c = (c << 6) | (next & 0x3F);
    }
    constexpr std::array<char32_t, 5> smallest{0, 0, 0x80, 0x800, 0x10000};
    if (c < smallest[length] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        return std::nullopt;
    }
    at += length;
    return c;
}

} // namespace

std::optional<std::string> label_problem(std::string_view text) {
    if (text.empty()) {
        return "is empty";
    }
    if (text.size() > max_label_bytes) {
        return "is " + std::to_string(text.size()) + " bytes long";
    }
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t start = at;
        const auto c = next_code_point(text, at);
        if (!c) {
            return "is not valid UTF-8 (at byte " + std::to_string(start) + ")";
        }
        if (in(control_chars, *c)) {
            return "holds " + code_point_name(*c) + ", a control character";
        }
        if (in(format_chars, *c)) {
            return "holds " + code_point_name(*c) +
                   ", a Unicode format character (invisible, or reorders the text around it)";
        }
        if (*c == '"' || *c == '\\') {
            return std::string("holds a ") + (*c == '"' ? "quote" : "backslash");
        }
    }
    return std::nullopt;
}

} // namespace memguard
