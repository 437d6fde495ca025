// Temporary allowlist entries ("let this vendor in for two hours"): each lets one network into
// one guard until a wall-clock time. The list is plain data here: granting and revoking against
// the config, expiry, the policy it makes with the config, and the text of the state file
// (temporary.json) that keeps it across restarts. What the daemon does with it: temporary_keeper.
#pragma once

#include "net.hpp"
#include "policy.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memguard {

inline constexpr std::string_view temporary_file_name = "temporary.json";

using WallSeconds = std::chrono::sys_seconds;

inline WallSeconds wall_now() {
    return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

struct TemporaryEntry {
    std::string guard;
    Network network;
    std::optional<std::string> comment; // its label in the policy
    WallSeconds granted;
    WallSeconds expires;
};

// "2026-12-06T14:00:00Z" (UTC), and back; nullopt for any other text.
std::string iso8601(WallSeconds t);
std::optional<WallSeconds> parse_iso8601(std::string_view text);

// What `memguardd allow` asks for. `guard` empty: the config's only guard.
struct GrantRequest {
    std::string target; // an address or network, as written
    std::string guard;
    std::optional<std::string> comment;
    std::chrono::seconds length{};
};

// Where the config's entries are, to name them in refusals: the main file's path (a ListedAt
// with an empty file means it) and the path of the temporary file.
struct ListedNames {
    std::string config_path;
    std::string temporary_path;
    [[nodiscard]] std::string where(const ListedAt& at) const;
};

class TemporaryList {
public:
    // The state file's text; entries that are not valid are left out, each named in `problems`.
    static TemporaryList parse(std::string_view text, std::vector<std::string>& problems);
    [[nodiscard]] std::string to_text() const;

    // Adds the entry `request` asks for (or renews the one of the same network and guard);
    // returns it. Throws std::invalid_argument saying what is wrong: a network that is not one,
    // a comment that is not a label, an unknown or unnamed guard, a network the config allows.
    TemporaryEntry grant(const GrantRequest& request, const Policy& config, WallSeconds now,
                         const ListedNames& names);
    // Takes out the entry of `target` (in `guard`, or the only guard holding it); returns it.
    // Throws std::invalid_argument when there is none, naming the config's entry if it is one.
    TemporaryEntry revoke(const std::string& target, const std::string& guard, const Policy& config,
                          const ListedNames& names);
    // Takes out and returns the entries whose time is up at `now`.
    std::vector<TemporaryEntry> expire(WallSeconds now);

    [[nodiscard]] std::optional<WallSeconds> next_expiry() const;
    [[nodiscard]] const std::vector<TemporaryEntry>& entries() const { return entries_; }
    // The config with each entry added to its guard's allowlist (labelled with its comment,
    // listed at `temporary_path` "temporary[i]"). An entry whose guard is gone, or whose network
    // the config lists itself, adds nothing.
    [[nodiscard]] Policy applied_to(const Policy& config, const std::string& temporary_path) const;
    // For status: every entry with its expiry and the seconds left at `now`.
    [[nodiscard]] nlohmann::json to_json(WallSeconds now) const;

private:
    std::vector<TemporaryEntry> entries_;
};

} // namespace memguard
