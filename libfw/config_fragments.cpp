// conf.d: fragments a role or a package drops beside the main file, each adding allowlist
// entries or whole guards. Settings (scalars) stay in the main file, so one place says how.
#include "config.hpp"
#include "config_guard.hpp"
#include "config_json.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <memory>

namespace memguard {

namespace {

using namespace config_detail;

struct DirClose {
    void operator()(DIR* d) const { ::closedir(d); }
};

// Adds entries to a guard the main file (or an earlier fragment) defines: only "allow".
void extend_guard(Reader& r, const json& v, const std::string& path, const std::string& file,
                  GuardSpec& g, AllowSeen& seen) {
    for (const auto& [key, value] : v.items()) {
        if (key == "allow") {
            read_allow(r, value, path + ".allow", g, seen, file);
        } else if (key != "name") {
            r.problem(std::string(path).append(".").append(key),
                      "guard \"" + g.name +
                          "\" is defined before this fragment; a fragment "
                          "adds only \"allow\" entries to it");
        }
    }
}

void merge_guards(Reader& r, const json& v, const std::string& file, Policy& p, GuardSeen& seen) {
    if (!v.is_array()) {
        r.problem("guards", v, "is not an array of guards");
        return;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string path = "guards[" + std::to_string(i) + "]";
        const auto& e = v[i];
        const std::string name = e.is_object() && valid_guard_name(e.value("name", json()))
                                     ? e["name"].get<std::string>()
                                     : "";
        const auto known = std::ranges::find(p.guards, name, &GuardSpec::name);
        if (known != p.guards.end()) {
            extend_guard(r, e, path, file, *known, seen[name]);
        } else if (auto g = read_guard(r, e, path, seen[name], file)) {
            p.guards.push_back(std::move(*g));
        }
    }
}

// Top-level "allow" in a fragment extends the one guard of a flat main file.
void merge_allow(Reader& r, const json& v, const std::string& file, Policy& p, GuardSeen& seen) {
    if (p.guards.size() != 1) {
        r.problem("allow", "there are " + std::to_string(p.guards.size()) +
                               " guards; add the entries to one by name: {\"guards\": "
                               "[{\"name\": \"...\", \"allow\": [...]}]}");
        return;
    }
    GuardSpec& g = p.guards.front();
    read_allow(r, v, "allow", g, seen[g.name], file);
}

} // namespace

namespace config_detail {

void merge_fragment(Reader& r, std::string_view text, const std::string& file, Policy& p,
                    GuardSeen& seen) {
    std::vector<std::string> duplicates;
    const json doc = parse_document(text, duplicates);
    for (const auto& key : duplicates) {
        r.problem(key, "is given more than once");
    }
    for (const auto& [key, value] : doc.items()) {
        if (key == "allow") {
            merge_allow(r, value, file, p, seen);
        } else if (key == "guards") {
            merge_guards(r, value, file, p, seen);
        } else {
            r.problem(json(key).dump(), "is not a fragment key: a fragment holds only \"allow\" "
                                        "and \"guards\"; settings belong in the main file");
        }
    }
}

} // namespace config_detail

std::string fragment_dir(const std::string& config_path) {
    constexpr std::string_view suffix = ".json";
    const bool json_named = config_path.ends_with(suffix) && config_path.size() > suffix.size();
    return (json_named ? config_path.substr(0, config_path.size() - suffix.size()) : config_path) +
           ".d";
}

FragmentListing list_fragments(const std::string& config_path) {
    const std::string dir = fragment_dir(config_path);
    const std::unique_ptr<DIR, DirClose> d(::opendir(dir.c_str()));
    if (!d) {
        if (errno == ENOENT) {
            return {};
        }
        throw ConfigError({dir + ": cannot list the fragments: " + std::strerror(errno)});
    }
    FragmentListing out;
    while (const dirent* e = ::readdir(d.get())) {
        const std::string_view name = e->d_name;
        if (!name.starts_with('.')) {
            (name.ends_with(".json") ? out.files : out.ignored).emplace_back(name);
        }
    }
    for (auto* names : {&out.files, &out.ignored}) {
        std::ranges::sort(*names);
        for (auto& name : *names) {
            name.insert(0, dir + "/");
        }
    }
    return out;
}

std::vector<std::string> fragment_files(const std::string& config_path) {
    return list_fragments(config_path).files;
}

} // namespace memguard
