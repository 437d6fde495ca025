// The files of a config read into memory, so that what was read can be validated, compared and
// kept without reading the files again.
#include "config.hpp"
#include "config_file.hpp"

#include <cstdint>
#include <cstdio>

namespace memguard {

namespace {

ConfigText read_text(const std::string& path, FileRules rules) {
    ConfigText file{path, {}, {}};
    try {
        file.text = read_config_file(path, rules);
    } catch (const ConfigError& e) {
        file.unreadable = e.problems();
    }
    return file;
}

class Fnv1a {
public:
    void add(std::string_view bytes) {
        for (const char c : bytes) {
            hash_ ^= static_cast<unsigned char>(c);
            hash_ *= prime;
        }
    }
    // The length first, so that no two sequences of texts run together into one.
    void add_field(std::string_view bytes) {
        add(std::to_string(bytes.size()) + ":");
        add(bytes);
    }
    [[nodiscard]] std::string hex() const {
        char out[17];
        std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(hash_));
        return out;
    }

private:
    static constexpr std::uint64_t prime = 0x100000001b3ULL;
    std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

void add_file(Fnv1a& hash, const ConfigText& file) {
    hash.add_field(file.path);
    hash.add_field(file.unreadable.empty() ? "text" : "unreadable");
    hash.add_field(file.text);
}

} // namespace

ConfigSource read_config_source(const std::string& path, FileRules rules) {
    ConfigSource source{read_text(path, rules), {}, {}};
    FragmentListing listing = list_fragments(path);
    for (const auto& fragment : listing.files) {
        source.fragments.push_back(read_text(fragment, rules));
    }
    source.ignored = std::move(listing.ignored);
    return source;
}

std::string config_hash(const ConfigSource& source) {
    Fnv1a hash;
    add_file(hash, source.main);
    hash.add_field(std::to_string(source.fragments.size()));
    for (const auto& fragment : source.fragments) {
        add_file(hash, fragment);
    }
    return hash.hex();
}

} // namespace memguard
