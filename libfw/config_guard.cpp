#include "config_guard.hpp"

#include "label_text.hpp"

#include <algorithm>
#include <cctype>
#include <regex>

namespace memguard::config_detail {

void read_ports(Reader& r, const json& v, const std::string& path,
                std::vector<std::uint16_t>& out) {
    if (!v.is_array() || v.empty()) {
        r.problem(path, v, "is not a non-empty array of port numbers");
        return;
    }
    out.clear();
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string at = path + "[" + std::to_string(i) + "]";
        const auto& e = v[i];
        if (!e.is_number_integer() || e.get<std::int64_t>() < 1 || e.get<std::int64_t>() > 65535) {
            r.problem(at, e, "is not a port number (an integer from 1 to 65535)");
            continue;
        }
        const auto port = static_cast<std::uint16_t>(e.get<std::int64_t>());
        if (std::ranges::find(out, port) != out.end()) {
            r.problem(at, e, "is listed twice");
            continue;
        }
        out.push_back(port);
    }
}

void read_protocol_list(Reader& r, const json& v, const std::string& path, bool may_be_empty,
                        std::vector<Protocol>& out) {
    if (!v.is_array() || (v.empty() && !may_be_empty)) {
        r.problem(path, v,
                  may_be_empty ? "is not an array of \"tcp\" and \"udp\""
                               : "is not a non-empty array of \"tcp\" and \"udp\"");
        return;
    }
    out.clear();
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string at = path + "[" + std::to_string(i) + "]";
        const auto& e = v[i];
        if (e != "tcp" && e != "udp") {
            r.problem(at, e, "is not a protocol (\"tcp\" or \"udp\")");
            continue;
        }
        const auto proto = e == "tcp" ? Protocol::tcp : Protocol::udp;
        if (std::ranges::find(out, proto) != out.end()) {
            r.problem(at, e, "is listed twice");
            continue;
        }
        out.push_back(proto);
    }
}

void settle_reverse_path(Reader& r, const std::optional<std::vector<Protocol>>& given,
                         const std::string& path, GuardSpec& g) {
    const auto guarded = [&](Protocol proto) { return std::ranges::count(g.protocols, proto) > 0; };
    if (!given) {
        g.reverse_path.clear();
        if (guarded(Protocol::udp)) {
            g.reverse_path.push_back(Protocol::udp);
        }
        return;
    }
    g.reverse_path = *given;
    for (std::size_t i = 0; i < given->size(); ++i) {
        const Protocol proto = (*given)[i];
        if (!guarded(proto)) {
            r.problem(path + "[" + std::to_string(i) + "]",
                      "\"" + std::string(to_string(proto)) +
                          "\" is not guarded (it is not in \"protocols\")");
        }
    }
}

namespace {

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

// A label's rules are label_text.hpp's. The value is shown with every non-ASCII character
// escaped, so the error shows a bidi override instead of obeying it.
std::optional<std::string> read_label(Reader& r, const json& v, const std::string& path) {
    const std::string what = "a label: a string of 1 to " + std::to_string(max_label_bytes) +
                             " bytes of UTF-8 without control or format characters, quotes or "
                             "backslashes";
    if (!v.is_string()) {
        r.problem(path, v, "is not " + what);
        return std::nullopt;
    }
    if (const auto wrong = label_problem(v.get_ref<const std::string&>())) {
        r.problem(path, v.dump(-1, ' ', true, json::error_handler_t::replace) + " " + *wrong +
                            ", so it is not " + what);
        return std::nullopt;
    }
    return v.get<std::string>();
}

// An entry is "10.1.0.0/16" or {"net": "10.1.0.0/16", "comment": "web tier"}: the network's
// text and where it is, and the label if any.
struct EntryText {
    json net;
    std::string path;
    std::optional<std::string> label;
    bool ok = true;
};

EntryText read_entry_object(Reader& r, const json& e, const std::string& path) {
    EntryText out{nullptr, path + ".net", std::nullopt, true};
    for (const auto& [key, value] : e.items()) {
        if (key == "net") {
            out.net = value;
        } else if (key == "comment") {
            out.label = read_label(r, value, path + ".comment");
            out.ok = out.ok && out.label.has_value();
        } else {
            r.problem(std::string(path).append(".").append(key),
                      "unknown key (an entry has \"net\" and \"comment\")");
            out.ok = false;
        }
    }
    if (out.net.is_null()) {
        r.problem(path, e, "has no \"net\"");
        out.ok = false;
    }
    return out;
}

std::optional<Network> read_network(Reader& r, const json& e, const std::string& path) {
    const auto net = e.is_string() ? parse_network(e.get<std::string>()) : std::nullopt;
    if (!net && looks_like_hostname(e)) {
        r.problem(path, e.dump() + ": hostnames are not supported; list addresses or networks");
        return std::nullopt;
    }
    if (!net) {
        r.problem(path, e, "is not an IPv4 or IPv6 network");
        return std::nullopt;
    }
    if (net->has_host_bits()) {
        r.problem(path, e,
                  "has host bits set; did you mean \"" + net->canonical().to_string() + "\"?");
        return std::nullopt;
    }
    return net;
}

} // namespace

void read_allow(Reader& r, const json& v, const std::string& path, GuardSpec& g, AllowSeen& seen,
                const std::string& file) {
    if (!v.is_array()) {
        r.problem(path, v, "is not an array of networks");
        return;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string at = path + "[" + std::to_string(i) + "]";
        const auto entry = v[i].is_object() ? read_entry_object(r, v[i], at)
                                            : EntryText{v[i], at, std::nullopt, true};
        const auto net = entry.ok ? read_network(r, entry.net, entry.path) : std::nullopt;
        if (!net) {
            continue;
        }
        const auto [listed, added] = seen.emplace(*net, ListedAt{file, at});
        if (!added) {
            const auto& was = listed->second;
            r.problem(entry.path, entry.net,
                      was.file == file ? "is listed twice"
                                       : "is listed twice (also in " +
                                             (was.file.empty() ? "the main file" : was.file) +
                                             " at " + was.path + ")");
            continue;
        }
        g.allow.push_back(*net);
        g.listed_at.by_network.emplace(*net, listed->second);
        if (entry.label) {
            g.labels.emplace(*net, *entry.label);
        }
    }
}

// "new" is not: memguard4-new is the name the legacy backend loads a new default set under.
bool valid_guard_name(const json& v) {
    static const std::regex name("[a-z0-9][a-z0-9_-]{0,19}");
    return v.is_string() && std::regex_match(v.get_ref<const std::string&>(), name) && v != "new";
}

std::optional<GuardSpec> read_guard(Reader& r, const json& v, const std::string& path,
                                    AllowSeen& seen, const std::string& file) {
    if (!v.is_object()) {
        r.problem(path, v, "is not a guard (an object with \"name\" and \"ports\")");
        return std::nullopt;
    }
    if (!v.contains("name") || !valid_guard_name(v["name"])) {
        r.problem(path + ".name", v.value("name", json()),
                  "is not a guard name (1 to 20 of a-z, 0-9, _ and -, starting with a letter or "
                  "digit; not \"new\")");
        return std::nullopt;
    }
    GuardSpec g;
    g.name = v["name"].get<std::string>();
    std::optional<std::vector<Protocol>> reverse_path;
    for (const auto& [key, value] : v.items()) {
        if (key == "ports") {
            read_ports(r, value, path + ".ports", g.ports);
        } else if (key == "protocols") {
            read_protocol_list(r, value, path + ".protocols", false, g.protocols);
        } else if (key == "allow") {
            read_allow(r, value, path + ".allow", g, seen, file);
        } else if (key == "reverse_path_check") {
            read_protocol_list(r, value, path + ".reverse_path_check", true,
                               reverse_path.emplace());
        } else if (key != "name") {
            r.problem(std::string(path).append(".").append(key),
                      "unknown key (a guard has name, ports, protocols, allow "
                      "and reverse_path_check)");
        }
    }
    if (!v.contains("ports")) {
        r.problem(path, "guard \"" + g.name + "\" has no \"ports\"");
    }
    settle_reverse_path(r, reverse_path, path + ".reverse_path_check", g);
    return g;
}

void check_overlaps(Reader& r, const std::vector<GuardSpec>& guards) {
    for (std::size_t a = 0; a < guards.size(); ++a) {
        for (std::size_t b = a + 1; b < guards.size(); ++b) {
            if (guards[a].name == guards[b].name) {
                r.problem("guards", "the name \"" + guards[a].name + "\" is used twice");
                continue;
            }
            for (const auto port : guards[a].ports) {
                for (const auto proto : guards[a].protocols) {
                    if (std::ranges::count(guards[b].ports, port) > 0 &&
                        std::ranges::count(guards[b].protocols, proto) > 0) {
                        r.problem("guards", std::string(to_string(proto)) + " port " +
                                                std::to_string(port) + " is in guard \"" +
                                                guards[a].name + "\" and in guard \"" +
                                                guards[b].name + "\"; a port has one allowlist");
                    }
                }
            }
        }
    }
}

} // namespace memguard::config_detail
