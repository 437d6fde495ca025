// /etc/memguard.json → Policy. Every error names where it is (file, JSON path) and the bad value.
#pragma once

#include "policy.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace memguard {

inline constexpr std::string_view default_config_path = "/etc/memguard.json";

class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(std::vector<std::string> problems);
    // One line per problem, e.g. `allow[2]: "192.168.1.300/24" is not an IPv4 or IPv6 network`.
    [[nodiscard]] const std::vector<std::string>& problems() const { return problems_; }

private:
    std::vector<std::string> problems_;
};

// Parses and validates JSON text. Throws ConfigError listing every problem found.
Policy parse_config(std::string_view text);

struct FileRules {
    uid_t owner = 0; // the file must be owned by this user (root), like sshd's StrictModes
};

// Reads `path`, refusing a file that is not a regular file, not owned by `rules.owner`, or
// writable by group or others; then parse_config; then each fragment_files(path) the same way,
// adding its allow entries and guards. Every problem of every file, each prefixed with its file.
// The same as parse_config_source(read_config_source(path, rules)).
Policy load_config(const std::string& path, FileRules rules = {});

// One file of a config as it was read: its path and whole text, or why it could not be read.
struct ConfigText {
    std::string path;
    std::string text;
    std::vector<std::string> unreadable; // "path: cannot open: ..."; empty when `text` was read
    friend bool operator==(const ConfigText&, const ConfigText&) = default;
};

// The files of a config, as load_config reads them: the main file, then each fragment in the
// order it is read, and the fragment directory's entries that are not read.
struct ConfigSource {
    ConfigText main;
    std::vector<ConfigText> fragments;
    std::vector<std::string> ignored;
    friend bool operator==(const ConfigSource&, const ConfigSource&) = default;
};

// Reads the main file and its fragments (the files are checked as load_config checks them; one
// that is refused or cannot be read keeps why in `unreadable`). Throws ConfigError only when the
// fragment directory exists and cannot be listed.
ConfigSource read_config_source(const std::string& path, FileRules rules = {});
// Validates texts read earlier, exactly as load_config validates the files: the same Policy,
// with each entry's file and JSON path, or the same ConfigError. Touches no file.
Policy parse_config_source(const ConfigSource& source);
// A digest of the paths and texts (not the ignored entries), to tell whether the files changed:
// 16 hex digits (FNV-1a, 64 bits). Not a defence against anybody: the files are root's.
std::string config_hash(const ConfigSource& source);

// Where the fragments of the config at `path` live: the path without ".json", plus ".d"
// (/etc/memguard.json → /etc/memguard.d).
std::string fragment_dir(const std::string& config_path);
// What fragment_dir holds: `files`, its *.json files (not hidden ones), read in lexical (byte)
// order; `ignored`, its other entries that are not hidden, sorted. Both empty when the directory
// does not exist. Throws ConfigError when it exists and cannot be listed.
struct FragmentListing {
    std::vector<std::string> files;
    std::vector<std::string> ignored;
};
FragmentListing list_fragments(const std::string& config_path);
std::vector<std::string> fragment_files(const std::string& config_path); // list_fragments' files

// The ports a file that may not validate names, so that failing closed closes them too: those
// of every "ports" array (top level and guards) when the text is JSON; when it is not (a trailing
// comma, a missing brace), those of every `"ports": [...]` in it. A port counts as 11311, 11311.0
// or "11311". Sorted, without duplicates; best effort: no error is reported, a list it cannot make
// out gives nothing.
std::vector<std::uint16_t> ports_named_in(std::string_view text);
// The same for a file and its fragments, each read only if load_config would read it (a regular
// file `rules` trust, at most max_config_bytes); {} for one that is not, or on any error.
std::vector<std::uint16_t> ports_named_in_file(const std::string& path, FileRules rules = {});

} // namespace memguard
