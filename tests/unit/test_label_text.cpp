// What a label may hold (label_text.hpp): UTF-8 without Unicode control (Cc) or format (Cf)
// characters, quotes or backslashes, 1 to 100 bytes.
#include "support.hpp"

#include "label_text.hpp"

#include <initializer_list>
#include <optional>
#include <string>

using memguard::label_problem;

namespace {

// The UTF-8 bytes of code point `c`.
std::string utf8(char32_t c) {
    std::string out;
    const auto byte = [&](char32_t b) { out += static_cast<char>(b); };
    if (c < 0x80) {
        byte(c);
    } else if (c < 0x800) {
        byte(0xC0 | (c >> 6));
        byte(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        byte(0xE0 | (c >> 12));
        byte(0x80 | ((c >> 6) & 0x3F));
        byte(0x80 | (c & 0x3F));
    } else {
        byte(0xF0 | (c >> 18));
        byte(0x80 | ((c >> 12) & 0x3F));
        byte(0x80 | ((c >> 6) & 0x3F));
        byte(0x80 | (c & 0x3F));
    }
    return out;
}

std::string problem_with(char32_t c) {
    return label_problem("web" + utf8(c) + "tier").value_or("");
}

} // namespace

TEST_CASE("label text: printable text of any script is a label") {
    CHECK_FALSE(label_problem("web tier"));
    CHECK_FALSE(label_problem("café – Zürich 東京 " + utf8(0x1F600)));
    CHECK_FALSE(label_problem(std::string(100, 'x')));
    // neighbours of the refused ranges
    for (const char32_t c : std::initializer_list<char32_t>{
             0x20, 0x7E, 0xA0, 0xAE, 0x0606, 0x200A, 0x2010, 0x2029, 0x202F, 0x2065, 0xFEFE, 0xFFFC,
             0x110BE, 0x1D17B, 0xE0000, 0xE0080}) {
        INFO(static_cast<unsigned>(c));
        CHECK_FALSE(label_problem("a" + utf8(c)));
    }
}

TEST_CASE("label text: control characters, C0 and C1, are named by code point") {
    CHECK(problem_with(0x09) == "holds U+0009, a control character");
    CHECK(problem_with(0x7F) == "holds U+007F, a control character");
    CHECK(problem_with(0x9B) == "holds U+009B, a control character");
    CHECK(problem_with(0x80) == "holds U+0080, a control character");
    CHECK(label_problem(std::string("a\0b", 3)) == "holds U+0000, a control character");
}

TEST_CASE("label text: every Unicode format character (Cf) is refused") {
    const std::string format = ", a Unicode format character (invisible, or reorders the text "
                               "around it)";
    CHECK(problem_with(0x202E) == "holds U+202E" + format);
    for (const char32_t c : std::initializer_list<char32_t>{
             0x00AD,  0x0600,  0x0605,  0x061C,  0x06DD,  0x070F,  0x0890,  0x0891,
             0x08E2,  0x180E,  0x200B,  0x200F,  0x202A,  0x2060,  0x2064,  0x2066,
             0x206F,  0xFEFF,  0xFFF9,  0xFFFB,  0x110BD, 0x110CD, 0x13430, 0x1343F,
             0x1BCA0, 0x1BCA3, 0x1D173, 0x1D17A, 0xE0001, 0xE0020, 0xE007F}) {
        INFO(static_cast<unsigned>(c));
        CHECK(problem_with(c).ends_with(format));
    }
    CHECK(problem_with(0xE0041) == "holds U+E0041" + format);
}

TEST_CASE("label text: invalid UTF-8, quotes, backslashes, empty and long") {
    CHECK(label_problem("a\xff") == "is not valid UTF-8 (at byte 1)");
    CHECK(label_problem("\x80") == "is not valid UTF-8 (at byte 0)");       // a stray continuation
    CHECK(label_problem("ab\xe2\x80") == "is not valid UTF-8 (at byte 2)"); // truncated
    CHECK(label_problem("\xc0\xaf") == "is not valid UTF-8 (at byte 0)");   // overlong '/'
    CHECK(label_problem("\xe0\x80\xaf") == "is not valid UTF-8 (at byte 0)");
    CHECK(label_problem("\xed\xa0\x80") == "is not valid UTF-8 (at byte 0)");     // a surrogate
    CHECK(label_problem("\xf4\x90\x80\x80") == "is not valid UTF-8 (at byte 0)"); // > U+10FFFF
    CHECK(label_problem("a \"b\"") == "holds a quote");
    CHECK(label_problem("a\\b") == "holds a backslash");
    CHECK(label_problem("") == "is empty");
    CHECK(label_problem(std::string(101, 'x')) == "is 101 bytes long");
}
