#include "config_json.hpp"

#include <algorithm>
#include <set>

namespace memguard::config_detail {

namespace {

// Position of byte `offset` as "line L, column C" (both from 1).
std::string position(std::string_view text, std::size_t offset) {
    const auto before = text.substr(0, std::min(offset, text.size()));
    const auto line = 1 + std::count(before.begin(), before.end(), '\n');
    const auto last_nl = before.rfind('\n');
    const auto column =
        last_nl == std::string_view::npos ? before.size() + 1 : before.size() - last_nl;
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// Offset of the first byte that is not well-formed UTF-8 (RFC 3629), or npos.
std::size_t invalid_utf8_offset(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t len = 0;
        unsigned min = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            min = 0x10000;
        } else {
            return i;
        }
        if (i + len > text.size()) {
            return i;
        }
        unsigned cp = c & (0x7Fu >> len);
        for (std::size_t k = 1; k < len; ++k) {
            const auto cc = static_cast<unsigned char>(text[i + k]);
            if ((cc & 0xC0) != 0x80) {
                return i;
            }
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return i;
        }
        i += len;
    }
    return std::string_view::npos;
}

// Offset of the first comment (`//`, `/*` or `#`) outside a JSON string, or npos. JSON has no
// comments, but admins used to other config files write them.
std::size_t comment_offset(std::string_view text) {
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const char next = i + 1 < text.size() ? text[i + 1] : '\0';
        if (in_string) {
            i += c == '\\' ? 1 : 0; // an escaped character, \" included
            in_string = c != '"';
        } else if (c == '"') {
            in_string = true;
        } else if (c == '#' || (c == '/' && (next == '/' || next == '*'))) {
            return i;
        }
    }
    return std::string_view::npos;
}

// Builds the document as json::parse does and records every key given twice in one object:
// nlohmann keeps the last of two equal keys, and a duplicated key in a firewall config is a
// mistake to report. Not json::parse with a callback for this: after each object that parser
// scans the enclosing array for discarded values, quadratic in an allowlist of labelled entries.
class StrictBuilder {
public:
    StrictBuilder(json& doc, std::vector<std::string>& duplicates)
        : dom_(doc), duplicates_(duplicates) {}

    bool null() { return dom_.null(); }
    bool boolean(bool v) { return dom_.boolean(v); }
    bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
    bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
    bool number_float(json::number_float_t v, const json::string_t& text) {
        return dom_.number_float(v, text);
    }
    bool string(json::string_t& v) { return dom_.string(v); }
    bool binary(json::binary_t& v) { return dom_.binary(v); }
    bool start_object(std::size_t n) {
        keys_.emplace_back();
        return dom_.start_object(n);
    }
    bool key(json::string_t& k) {
        if (!keys_.back().insert(k).second) {
            duplicates_.push_back(k);
        }
        return dom_.key(k);
    }
    bool end_object() {
        keys_.pop_back();
        return dom_.end_object();
    }
    bool start_array(std::size_t n) { return dom_.start_array(n); }
    bool end_array() { return dom_.end_array(); }
    // Throws `ex` as the type it has, as json::parse does.
    template <class Exception>
    bool parse_error(std::size_t at, const std::string& token, const Exception& ex) {
        return dom_.parse_error(at, token, ex);
    }

private:
    nlohmann::detail::json_sax_dom_parser<json> dom_;
    std::vector<std::set<std::string>> keys_; // of each object being read, innermost last
    std::vector<std::string>& duplicates_;
};

json parse_strict(std::string_view text, std::vector<std::string>& duplicates) {
    json doc;
    StrictBuilder builder(doc, duplicates);
    json::sax_parse(text.begin(), text.end(), &builder);
    return doc;
}

} // namespace

json parse_document(std::string_view text, std::vector<std::string>& duplicates) {
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        throw ConfigError({"the file is empty (it must hold a JSON object)"});
    }
    // nlohmann's lexer takes a NUL byte for the end of input and would ignore what follows.
    if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
        throw ConfigError({position(text, nul) + ": a NUL byte (byte " + std::to_string(nul) +
                           ") is not allowed in a JSON file"});
    }
    if (const auto bad = invalid_utf8_offset(text); bad != std::string_view::npos) {
        throw ConfigError(
            {position(text, bad) + ": not valid UTF-8 (byte " + std::to_string(bad) + ")"});
    }
    json doc;
    try {
        doc = parse_strict(text, duplicates);
    } catch (const json::exception& e) {
        // e.what() starts with "[json.exception.parse_error.101] parse error at line L, ..."
        // (or out_of_range.406 for a number too large for a double).
        const std::string what = e.what();
        const auto tag_end = what.find("] ");
        std::string problem =
            "not valid JSON: " + (tag_end == std::string::npos ? what : what.substr(tag_end + 2));
        if (const auto comment = comment_offset(text); comment != std::string_view::npos) {
            problem += "; " + position(text, comment) +
                       ": JSON has no comments; keep notes in a separate file";
        }
        throw ConfigError({problem});
    }
    if (!doc.is_object()) {
        throw ConfigError(
            {"the top level must be a JSON object, not " + std::string(doc.type_name())});
    }
    return doc;
}

std::string joined_names(const std::vector<std::string>& names) {
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
    }
    return out;
}

} // namespace memguard::config_detail
