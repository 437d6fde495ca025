// The daemon's side of temporary allowlist entries (temporary.hpp): the requests of `memguardd
// allow` and `revoke`, the state file that keeps the entries across restarts, and the journal's
// lines for each grant, revocation and expiry. The service loop makes the passes and the timer.
#pragma once

#include "metrics_format.hpp"
#include "temporary.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

namespace memguard {

class TemporaryKeeper {
public:
    explicit TemporaryKeeper(std::string config_path) : config_path_(std::move(config_path)) {}

    // Reads the state file; entries that expired while the daemon was away are dropped and
    // logged as expired.
    void load(WallSeconds now);
    [[nodiscard]] Policy applied_to(const Policy& config) const;

    struct Outcome {
        std::string answer; // one line of JSON for the CLI
        bool changed = false;
    };
    // A JSON request {"request": "allow"|"revoke", "net", "guard", "comment", "for_s"}.
    // `config`: the config in force; null while failing closed (nothing is granted then, but
    // an entry can still be revoked).
    Outcome answer(const std::string& request, const Policy* config, WallSeconds now);
    // Drops the entries whose time is up; true when there were any.
    bool expire(WallSeconds now);
    // How long until the next entry expires; nullopt when there is none.
    [[nodiscard]] std::optional<std::chrono::nanoseconds> until_next(WallSeconds now) const;
    [[nodiscard]] nlohmann::json to_json(WallSeconds now) const { return list_.to_json(now); }
    [[nodiscard]] TemporaryCounts counts() const;

private:
    [[nodiscard]] ListedNames names() const;
    // Writes the state file; the problem, when it could not.
    std::optional<std::string> save() const;
    nlohmann::json grant(const nlohmann::json& request, const Policy& config, WallSeconds now);
    nlohmann::json revoke(const nlohmann::json& request, const Policy& config);
    void log_expired(const std::vector<TemporaryEntry>& gone, bool while_away);

    std::string config_path_;
    TemporaryList list_;
    std::uint64_t granted_ = 0;
    std::uint64_t expired_ = 0;
};

} // namespace memguard
