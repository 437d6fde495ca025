// The ports a config file names even when it is not valid, so failing closed closes them too.
#include "config.hpp"
#include "config_file.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <optional>

namespace memguard {

namespace {

using nlohmann::json;

// A port as an admin may have written it in a file that did not validate: 11311, 11311.0 or
// "11311". Closing a port is always safe, so anything that reads as one counts.
std::optional<std::uint16_t> port_written_as(const json& v) {
    const json number =
        v.is_string() ? json::parse(v.get_ref<const std::string&>(), nullptr, false) : v;
    if (!number.is_number()) {
        return std::nullopt;
    }
    const auto d = number.get<double>();
    if (d < 1 || d > 65535 || std::floor(d) != d) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(d);
}

// The ports in every "ports" array of valid JSON, at the top level and in guards alike (every
// array when a key is given twice: a parsed document keeps only the last); nullopt when the
// text is not JSON.
std::optional<std::vector<std::uint16_t>> ports_parsed(std::string_view text) {
    std::vector<std::uint16_t> ports;
    std::vector<bool> key_is_ports; // per depth: the last key read there was "ports"
    auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
        const auto at = static_cast<std::size_t>(depth);
        if (event == json::parse_event_t::key) {
            key_is_ports.resize(std::max(key_is_ports.size(), at + 1));
            key_is_ports[at] = parsed == "ports";
        } else if (event == json::parse_event_t::array_end && at < key_is_ports.size() &&
                   key_is_ports[at]) {
            for (const auto& e : parsed) {
                if (const auto port = port_written_as(e)) {
                    ports.push_back(*port);
                }
            }
        }
        return true;
    };
    if (json::parse(text.begin(), text.end(), callback, false).is_discarded()) {
        return std::nullopt;
    }
    return ports;
}

// The ports in every `"ports": [...]` of text that is not JSON. A list runs to its `]`, or to
// a `}` or `:` when the `]` is missing. A number that runs into the end of the text is left
// out: the file may have been cut short inside it (11311 read as 113).
std::vector<std::uint16_t> ports_scanned(std::string_view text) {
    constexpr std::string_view key = "\"ports\"";
    constexpr std::string_view space = " \t\r\n";
    constexpr std::string_view separators = " \t\r\n,\"";
    std::vector<std::uint16_t> ports;
    for (auto at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1)) {
        auto i = text.find_first_not_of(space, at + key.size());
        if (i == std::string_view::npos || text[i] != ':') {
            continue;
        }
        i = text.find_first_not_of(space, i + 1);
        if (i == std::string_view::npos || text[i] != '[') {
            continue;
        }
        const auto list = text.substr(i + 1, text.find_first_of("]}:", i) - i - 1);
        const bool cut = i + 1 + list.size() == text.size();
        for (auto b = list.find_first_not_of(separators); b != std::string_view::npos;) {
            const auto e = std::min(list.find_first_of(separators, b), list.size());
            const auto port = port_written_as(json::parse(list.substr(b, e - b), nullptr, false));
            if (port && !(cut && e == list.size())) {
                ports.push_back(*port);
            }
            b = list.find_first_not_of(separators, e);
        }
    }
    return ports;
}

} // namespace

std::vector<std::uint16_t> ports_named_in(std::string_view text) {
    // nlohmann's lexer stops at a NUL byte: what follows it could hide a "ports" list.
    auto ports = text.find('\0') == std::string_view::npos ? ports_parsed(text) : std::nullopt;
    if (!ports) {
        ports = ports_scanned(text);
    }
    std::ranges::sort(*ports);
    ports->erase(std::unique(ports->begin(), ports->end()), ports->end());
    return *ports;
}

std::vector<std::uint16_t> ports_named_in_file(const std::string& path, FileRules rules) {
    std::vector<std::uint16_t> ports;
    auto add_file = [&](const std::string& file) {
        try {
            const auto named = ports_named_in(read_config_file(file, rules));
            ports.insert(ports.end(), named.begin(), named.end());
        } catch (const std::exception&) {
            // unreadable or untrusted: it names nothing we may act on
        }
    };
    add_file(path);
    try {
        for (const auto& fragment : fragment_files(path)) {
            add_file(fragment);
        }
    } catch (const std::exception&) {
        // no listable fragment directory: the main file's ports only
    }
    std::ranges::sort(ports);
    ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
    return ports;
}

} // namespace memguard
