#include "config.hpp"

#include "config_file.hpp"
#include "config_guard.hpp"
#include "config_json.hpp"

#include <optional>

namespace memguard {

namespace {

using namespace config_detail;

std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) {
        out += out.empty() ? "" : "\n";
        out += line;
    }
    return out;
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

// The keys of one guard that the flat format gives at the top level.
struct FlatGuard {
    GuardSpec spec;
    std::optional<std::vector<Protocol>> reverse_path;
    std::vector<std::string> keys_given;
};

bool read_flat_key(Reader& r, const std::string& key, const json& value, FlatGuard& flat,
                   AllowSeen& seen) {
    if (key == "ports") {
        read_ports(r, value, "ports", flat.spec.ports);
    } else if (key == "protocols") {
        read_protocol_list(r, value, "protocols", false, flat.spec.protocols);
    } else if (key == "reverse_path_check") {
        read_protocol_list(r, value, "reverse_path_check", true, flat.reverse_path.emplace());
    } else if (key == "allow") {
        read_allow(r, value, "allow", flat.spec, seen);
    } else {
        return false;
    }
    flat.keys_given.push_back(key);
    return true;
}

bool read_global_key(Reader& r, const std::string& key, const json& value, Policy& p) {
    if (key == "allow_loopback") {
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
    } else if (key == "log_rate_per_s") {
        read_integer(r, value, "log_rate_per_s", 1, 10000, p.log_rate_per_s);
    } else if (key == "metrics_file") {
        read_metrics_file(r, value, p);
    } else {
        return false;
    }
    return true;
}

void read_guards(Reader& r, const json& v, Policy& p, GuardSeen& seen) {
    if (!v.is_array() || v.empty()) {
        r.problem("guards", v, "is not a non-empty array of guards");
        return;
    }
    p.guards.clear();
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string name = v[i].is_object() ? v[i].value("name", "") : "";
        if (auto g = read_guard(r, v[i], "guards[" + std::to_string(i) + "]", seen[name])) {
            p.guards.push_back(std::move(*g));
        }
    }
}

// A file that cannot be read or is not JSON: its problems among the others (the reader puts
// the file in front; read_config_file already did).
void absorb(Reader& r, const ConfigError& e, const std::string& file) {
    for (const auto& problem : e.problems()) {
        r.problem(problem.starts_with(file + ": ") ? problem.substr(file.size() + 2) : problem);
    }
}

} // namespace

namespace config_detail {

Policy parse_main(std::string_view text, Reader& r, GuardSeen& seen) {
    std::vector<std::string> duplicates;
    const json doc = parse_document(text, duplicates);
    for (const auto& key : duplicates) {
        r.problem(key, "is given more than once");
    }
    Policy p;
    FlatGuard flat;
    const json* guards = nullptr;
    for (const auto& [key, value] : doc.items()) {
        if (key == "guards") {
            guards = &value;
        } else if (!read_flat_key(r, key, value, flat, seen[flat.spec.name]) &&
                   !read_global_key(r, key, value, p)) {
            r.problem(json(key).dump(), "unknown key (known: ports, protocols, allow, "
                                        "allow_loopback, accept_established, action, "
                                        "backend, verify_interval_s, log_blocked, log_group, "
                                        "log_rate_per_s, reverse_path_check, metrics_file, "
                                        "guards)");
        }
    }
    if (guards != nullptr && !flat.keys_given.empty()) {
        r.problem("guards", "cannot be given with top-level " + joined_names(flat.keys_given) +
                                ": those make the one guard \"default\"; move them into a guard");
    } else if (guards != nullptr) {
        read_guards(r, *guards, p, seen);
    } else {
        settle_reverse_path(r, flat.reverse_path, "reverse_path_check", flat.spec);
        p.guards = {std::move(flat.spec)};
    }
    return p;
}

} // namespace config_detail

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(join_lines(problems)), problems_(std::move(problems)) {}

Policy parse_config(std::string_view text) {
    Reader r;
    GuardSeen seen;
    Policy p = parse_main(text, r, seen);
    check_overlaps(r, p.guards);
    if (!r.problems().empty()) {
        throw ConfigError(r.problems());
    }
    return p;
}

namespace {

// A file that could not be read counts its problems among the others; one that was read is
// parsed by `parse`.
template <class Parse> void take_file(Reader& r, const ConfigText& file, Parse parse) {
    r.set_prefix(file.path + ": ");
    if (!file.unreadable.empty()) {
        absorb(r, ConfigError(file.unreadable), file.path);
        return;
    }
    try {
        parse(file.text);
    } catch (const ConfigError& e) {
        absorb(r, e, file.path);
    }
}

} // namespace

Policy parse_config_source(const ConfigSource& source) {
    Reader r;
    GuardSeen seen;
    Policy p;
    take_file(r, source.main, [&](std::string_view text) { p = parse_main(text, r, seen); });
    for (const auto& fragment : source.fragments) {
        take_file(r, fragment,
                  [&](std::string_view text) { merge_fragment(r, text, fragment.path, p, seen); });
    }
    r.set_prefix(source.main.path + ": ");
    check_overlaps(r, p.guards);
    if (!r.problems().empty()) {
        throw ConfigError(r.problems());
    }
    p.ignored_files = source.ignored;
    return p;
}

Policy load_config(const std::string& path, FileRules rules) {
    return parse_config_source(read_config_source(path, rules));
}

} // namespace memguard
