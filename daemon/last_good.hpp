// The last good policy: the config's files as they were when the daemon last applied them
// without failing, kept in the state directory (state_store.hpp). A start with a config that does
// not validate applies it instead of failing closed, so the allowed clients keep their access.
// Kept as the files' texts, and validated again on every read by the code that validates the
// config, so it rebuilds the very same Policy (each entry's file and JSON path, its labels).
#pragma once

#include "config.hpp"
#include "utc_text.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memguard {

inline constexpr std::string_view last_good_name = "last-good.json";

struct LastGood {
    ConfigSource source;
    std::string hash;      // config_hash(source)
    std::int64_t saved{0}; // Unix time in seconds
};

// The state file's text. Throws nlohmann::json::exception when a text is not UTF-8.
std::string last_good_text(const LastGood& last_good);
// Reads that text back. Throws std::runtime_error saying what is wrong (not JSON, a field
// missing, texts that do not match their hash).
LastGood parse_last_good(std::string_view text);

struct LastGoodLoad {
    std::optional<LastGood> saved; // read, whole and for this config
    std::optional<Policy> policy;  // ... and it validated
    std::string why_not;           // why it is not used; "" also when there is none
};

// Reads the state file and validates its texts as the config `config_path` would be; one saved
// for another config path is not used.
LastGoodLoad load_last_good(const std::string& config_path);
// Replaces the state file; the error, or nullopt.
std::optional<std::string> save_last_good(const LastGood& last_good);
// The hash the state file says it holds; "" when there is none or it cannot be read.
std::string saved_last_good_hash();

} // namespace memguard
