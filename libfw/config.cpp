#include "config.hpp"

#include "config_file.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <set>
#include <sys/stat.h>

namespace memguard {

namespace {

using nlohmann::json;

std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) {
        out += out.empty() ? "" : "\n";
        out += line;
    }
    return out;
}

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

// Collects problems while the fields are read, so one run reports all of them.
class Reader {
public:
    void problem(const std::string& path, const json& value, const std::string& what) {
        problems_.push_back(path + ": " + value.dump() + " " + what);
    }
    void problem(const std::string& path, const std::string& what) {
        problems_.push_back(path + ": " + what);
    }
    [[nodiscard]] const std::vector<std::string>& problems() const { return problems_; }

private:
    std::vector<std::string> problems_;
};

void read_ports(Reader& r, const json& v, Policy& p) {
    if (!v.is_array() || v.empty()) {
        r.problem("ports", v, "is not a non-empty array of port numbers");
        return;
    }
    p.ports.clear();
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string path = "ports[" + std::to_string(i) + "]";
        const auto& e = v[i];
        if (!e.is_number_integer() || e.get<std::int64_t>() < 1 || e.get<std::int64_t>() > 65535) {
            r.problem(path, e, "is not a port number (an integer from 1 to 65535)");
            continue;
        }
        const auto port = static_cast<std::uint16_t>(e.get<std::int64_t>());
        if (std::find(p.ports.begin(), p.ports.end(), port) != p.ports.end()) {
            r.problem(path, e, "is listed twice");
            continue;
        }
        p.ports.push_back(port);
    }
}

// A list of "tcp" and "udp", each at most once; `may_be_empty` for a list that can turn
// something off.
void read_protocol_list(Reader& r, const json& v, const std::string& name, bool may_be_empty,
                        std::vector<Protocol>& out) {
    if (!v.is_array() || (v.empty() && !may_be_empty)) {
        r.problem(name, v,
                  may_be_empty ? "is not an array of \"tcp\" and \"udp\""
                               : "is not a non-empty array of \"tcp\" and \"udp\"");
        return;
    }
    out.clear();
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string path = name + "[" + std::to_string(i) + "]";
        const auto& e = v[i];
        if (e != "tcp" && e != "udp") {
            r.problem(path, e, "is not a protocol (\"tcp\" or \"udp\")");
            continue;
        }
        const auto proto = e == "tcp" ? Protocol::tcp : Protocol::udp;
        if (std::find(out.begin(), out.end(), proto) != out.end()) {
            r.problem(path, e, "is listed twice");
            continue;
        }
        out.push_back(proto);
    }
}

// reverse_path_check names protocols the ports are guarded for; unset, it is udp where udp is
// guarded. Checked once every key is read: "protocols" may come after it.
void settle_reverse_path(Reader& r, const std::optional<std::vector<Protocol>>& given, Policy& p) {
    const auto guarded = [&](Protocol proto) { return std::ranges::count(p.protocols, proto) > 0; };
    if (!given) {
        p.reverse_path.clear();
        if (guarded(Protocol::udp)) {
            p.reverse_path.push_back(Protocol::udp);
        }
        return;
    }
    p.reverse_path = *given;
    for (std::size_t i = 0; i < given->size(); ++i) {
        const Protocol proto = (*given)[i];
        if (!guarded(proto)) {
            r.problem("reverse_path_check[" + std::to_string(i) + "]",
                      "\"" + std::string(to_string(proto)) +
                          "\" is not guarded (it is not in \"protocols\")");
        }
    }
}

// "db.example.com", "localhost": letters, digits, dots and dashes, with a letter somewhere
// (RFC 1123). An address, a network or a typo in one has a digit-only part, a colon or a slash.
bool looks_like_hostname(const json& e) {
    if (!e.is_string()) {
        return false;
    }
    const auto& text = e.get_ref<const std::string&>();
    const auto allowed = [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '-'; };
    return std::ranges::all_of(text, allowed) &&
           std::ranges::any_of(text, [](unsigned char c) { return std::isalpha(c); });
}

void read_allow(Reader& r, const json& v, Policy& p) {
    if (!v.is_array()) {
        r.problem("allow", v, "is not an array of networks");
        return;
    }
    p.allow.clear();
    std::set<Network> seen; // a linear search made 10,000 entries cost O(n²)
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string path = "allow[" + std::to_string(i) + "]";
        const auto& e = v[i];
        const auto net = e.is_string() ? parse_network(e.get<std::string>()) : std::nullopt;
        if (!net && looks_like_hostname(e)) {
            r.problem(path, e.dump() + ": hostnames are not supported; list addresses or networks");
            continue;
        }
        if (!net) {
            r.problem(path, e, "is not an IPv4 or IPv6 network");
            continue;
        }
        if (net->has_host_bits()) {
            r.problem(path, e,
                      "has host bits set; did you mean \"" + net->canonical().to_string() + "\"?");
            continue;
        }
        if (!seen.insert(*net).second) {
            r.problem(path, e, "is listed twice");
            continue;
        }
        p.allow.push_back(*net);
    }
}

void read_bool(Reader& r, const json& v, const char* name, bool& out) {
    if (!v.is_boolean()) {
        r.problem(name, v, "is not true or false");
        return;
    }
    out = v.get<bool>();
}

template <class T>
void read_integer(Reader& r, const json& v, const char* name, std::int64_t min, std::int64_t max,
                  T& out) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < min || v.get<std::int64_t>() > max) {
        r.problem(name, v,
                  "is not a whole number from " + std::to_string(min) + " to " +
                      std::to_string(max));
        return;
    }
    out = static_cast<T>(v.get<std::int64_t>());
}

void read_action(Reader& r, const json& v, Policy& p) {
    if (v != "drop" && v != "reject") {
        r.problem("action", v, "is not \"drop\" or \"reject\"");
        return;
    }
    p.action = v == "drop" ? Action::drop : Action::reject;
}

void read_backend(Reader& r, const json& v, Policy& p) {
    if (v == "auto") {
        p.backend = BackendChoice::automatic;
    } else if (v == "iptables-legacy") {
        p.backend = BackendChoice::iptables_legacy;
    } else if (v == "nftables") {
        p.backend = BackendChoice::nftables;
    } else {
        r.problem("backend", v, "is not \"auto\", \"iptables-legacy\" or \"nftables\"");
    }
}

void read_interval(Reader& r, const json& v, Policy& p) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 3600) {
        r.problem("verify_interval_s", v, "is not a whole number of seconds from 1 to 3600");
        return;
    }
    p.verify_interval = std::chrono::seconds(v.get<std::int64_t>());
}

// An absolute path to a *.prom file, or null for none.
void read_metrics_file(Reader& r, const json& v, Policy& p) {
    if (v.is_null()) {
        p.metrics_file.reset();
        return;
    }
    const bool ok = v.is_string() && v.get_ref<const std::string&>().starts_with('/') &&
                    v.get_ref<const std::string&>().ends_with(".prom") &&
                    v.get_ref<const std::string&>().find('\0') == std::string::npos;
    if (!ok) {
        r.problem("metrics_file", v,
                  "is not an absolute path ending in .prom (node_exporter's textfile collector "
                  "reads only those), or null for no metrics");
        return;
    }
    p.metrics_file = v.get<std::string>();
}

// nlohmann keeps the last of two equal keys; a duplicated key in a firewall config is a
// mistake to report, so a parser callback records them.
json parse_strict(std::string_view text, std::vector<std::string>& duplicates) {
    std::vector<std::set<std::string>> keys;
    std::vector<std::string> names;
    auto callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
        switch (event) {
        case json::parse_event_t::object_start:
            keys.emplace_back();
            break;
        case json::parse_event_t::object_end:
            keys.pop_back();
            break;
        case json::parse_event_t::key:
            if (!keys.back().insert(parsed.get<std::string>()).second) {
                duplicates.push_back(parsed.get<std::string>());
            }
            break;
        default:
            break;
        }
        return true;
    };
    return json::parse(text.begin(), text.end(), callback);
}

// The text as one JSON object, or ConfigError saying why it is not one; `duplicates` gets the
// keys given twice.
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

} // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(join_lines(problems)), problems_(std::move(problems)) {}

Policy parse_config(std::string_view text) {
    std::vector<std::string> duplicates;
    const json doc = parse_document(text, duplicates);
    Reader r;
    for (const auto& key : duplicates) {
        r.problem(key, "is given more than once");
    }
    Policy p;
    std::optional<std::vector<Protocol>> reverse_path;
    for (const auto& [key, value] : doc.items()) {
        if (key == "ports") {
            read_ports(r, value, p);
        } else if (key == "protocols") {
            read_protocol_list(r, value, "protocols", false, p.protocols);
        } else if (key == "reverse_path_check") {
            read_protocol_list(r, value, "reverse_path_check", true, reverse_path.emplace());
        } else if (key == "allow") {
            read_allow(r, value, p);
        } else if (key == "allow_loopback") {
            read_bool(r, value, "allow_loopback", p.allow_loopback);
        } else if (key == "accept_established") {
            read_bool(r, value, "accept_established", p.accept_established);
        } else if (key == "action") {
            read_action(r, value, p);
        } else if (key == "verify_interval_s") {
            read_interval(r, value, p);
        } else if (key == "backend") {
            read_backend(r, value, p);
        } else if (key == "log_blocked") {
            read_bool(r, value, "log_blocked", p.log_blocked);
        } else if (key == "log_group") {
            read_integer(r, value, "log_group", 1, 65535, p.log_group);
        } else if (key == "metrics_file") {
            read_metrics_file(r, value, p);
        } else if (key == "log_rate_per_s") {
            read_integer(r, value, "log_rate_per_s", 1, 10000, p.log_rate_per_s);
        } else {
            r.problem(json(key).dump(), "unknown key (known: ports, protocols, allow, "
                                        "allow_loopback, accept_established, action, "
                                        "backend, verify_interval_s, log_blocked, log_group, "
                                        "log_rate_per_s, reverse_path_check, metrics_file)");
        }
    }
    settle_reverse_path(r, reverse_path, p);
    p.guards = {GuardSpec{std::string(default_guard_name), p.ports, p.protocols, p.allow,
                          p.reverse_path, {}}};
    if (!r.problems().empty()) {
        throw ConfigError(r.problems());
    }
    return p;
}

Policy load_config(const std::string& path, FileRules rules) {
    const std::string text = read_config_file(path, rules);
    try {
        return parse_config(text);
    } catch (const ConfigError& e) {
        std::vector<std::string> prefixed;
        for (const auto& problem : e.problems()) {
            prefixed.push_back(path);
            prefixed.back().append(": ").append(problem);
        }
        throw ConfigError(std::move(prefixed));
    }
}

} // namespace memguard
