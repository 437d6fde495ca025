#include "temporary_keeper.hpp"

#include "duration.hpp"
#include "log.hpp"
#include "state_store.hpp"

#include <stdexcept>

namespace memguard {

namespace {

using nlohmann::json;
using spdlog::level::err;
using spdlog::level::info;

std::string temporary_path() {
    return state_directory() + "/" + std::string(temporary_file_name);
}

// "10.0.0.10 "vendor" in guard default"
std::string describe(const TemporaryEntry& e) {
    return e.network.to_string() + (e.comment ? " \"" + *e.comment + "\"" : "") + " in guard " +
           e.guard;
}

LogFields fields(const TemporaryEntry& e, std::string_view action) {
    LogFields out{Event::temporary,
                  e.network.family,
                  {{"ACTION", std::string(action)},
                   {"NETWORK", e.network.to_string()},
                   {"GUARD", e.guard},
                   {"EXPIRES", iso8601(e.expires)}}};
    if (e.comment) {
        out.extra.emplace_back("LABEL", *e.comment);
    }
    return out;
}

json entry_answer(const TemporaryEntry& e) {
    return {{"net", e.network.to_string()},
            {"guard", e.guard},
            {"comment", e.comment ? json(*e.comment) : json()},
            {"expires", iso8601(e.expires)}};
}

} // namespace

ListedNames TemporaryKeeper::names() const {
    return {config_path_, temporary_path()};
}

void TemporaryKeeper::load(WallSeconds now) {
    const StateText file = read_state(std::string(temporary_file_name));
    if (file.error) {
        log_event(err, {Event::temporary, std::nullopt, {}},
                  "temporary allowlist entries not restored: " + file.error->what);
        return;
    }
    if (!file.text) {
        return;
    }
    std::vector<std::string> problems;
    list_ = TemporaryList::parse(*file.text, problems);
    for (const auto& problem : problems) {
        log_event(err, {Event::temporary, std::nullopt, {}},
                  temporary_path() + ": left out: " + problem);
    }
    log_expired(list_.expire(now), true);
    for (const auto& e : list_.entries()) {
        log_event(info, fields(e, "restored"),
                  "temporary entry restored: " + describe(e) + " until " + iso8601(e.expires));
    }
}

Policy TemporaryKeeper::applied_to(const Policy& config) const {
    return list_.applied_to(config, temporary_path());
}

TemporaryKeeper::Outcome TemporaryKeeper::answer(const std::string& request, const Policy* config,
                                                 WallSeconds now) {
    try {
        const json r = json::parse(request);
        const std::string what = r.value("request", "");
        if (what != "allow" && what != "revoke") {
            throw std::invalid_argument("unknown request \"" + what.substr(0, 40) + "\"");
        }
        if (config == nullptr && what == "allow") {
            throw std::invalid_argument("the config is invalid and memguardd fails closed; fix "
                                        "it first (memguardd check)");
        }
        // Failing closed there is no config to judge by, but a revocation needs none (the
        // config only names the file of a network that is not a temporary entry): a grant can
        // be withdrawn before the config is fixed.
        const Policy none;
        json done = what == "allow" ? grant(r, *config, now)
                                    : revoke(r, config != nullptr ? *config : none);
        return {done.dump() + "\n", true};
    } catch (const std::exception& e) {
        return {json{{"error", e.what()}}.dump() + "\n", false};
    }
}

json TemporaryKeeper::grant(const json& r, const Policy& config, WallSeconds now) {
    GrantRequest request{r.value("net", ""), r.value("guard", ""), std::nullopt,
                         std::chrono::seconds(r.value("for_s", std::int64_t{0}))};
    if (r.contains("comment") && r["comment"].is_string()) {
        request.comment = r["comment"].get<std::string>();
    }
    if (request.length < std::chrono::seconds(1) || request.length > max_duration) {
        throw std::invalid_argument("the length must be from 1s to " +
                                    format_duration(max_duration));
    }
    const TemporaryList before = list_;
    const TemporaryEntry entry = list_.grant(request, config, now, names());
    if (const auto problem = save()) {
        list_ = before;
        throw std::runtime_error("not granted: it could not be kept across restarts: " + *problem);
    }
    ++granted_;
    log_event(info, fields(entry, "granted"),
              "temporary entry granted: " + describe(entry) + " for " +
                  format_duration(request.length) + ", until " + iso8601(entry.expires));
    return {{"granted", entry_answer(entry)}};
}

json TemporaryKeeper::revoke(const json& r, const Policy& config) {
    const TemporaryEntry entry =
        list_.revoke(r.value("net", ""), r.value("guard", ""), config, names());
    std::string note;
    if (const auto problem = save()) {
        note = "it could not be taken out of the state file, so a restart before " +
               iso8601(entry.expires) + " brings it back: " + *problem;
        log_event(err, fields(entry, "revoked"), "temporary entries not saved: " + *problem);
    }
    log_event(info, fields(entry, "revoked"), "temporary entry revoked: " + describe(entry));
    return {{"revoked", entry_answer(entry)}, {"note", note}};
}

bool TemporaryKeeper::expire(WallSeconds now) {
    const auto gone = list_.expire(now);
    if (gone.empty()) {
        return false;
    }
    log_expired(gone, false);
    if (const auto problem = save()) {
        log_event(err, {Event::temporary, std::nullopt, {}},
                  "temporary entries not saved: " + *problem);
    }
    return true;
}

void TemporaryKeeper::log_expired(const std::vector<TemporaryEntry>& gone, bool while_away) {
    for (const auto& e : gone) {
        ++expired_;
        log_event(info, fields(e, "expired"),
                  "temporary entry expired: " + describe(e) + " at " + iso8601(e.expires) +
                      (while_away ? ", while memguardd was not running" : ""));
    }
}

std::optional<std::chrono::nanoseconds> TemporaryKeeper::until_next(WallSeconds now) const {
    const auto next = list_.next_expiry();
    if (!next) {
        return std::nullopt;
    }
    // A zero timerfd is a disarmed one: an entry due already is looked at a millisecond on.
    return std::max<std::chrono::nanoseconds>(*next - now, std::chrono::milliseconds(1));
}

TemporaryCounts TemporaryKeeper::counts() const {
    return {list_.entries().size(), granted_, expired_};
}

std::optional<std::string> TemporaryKeeper::save() const {
    const auto problem = list_.entries().empty()
                             ? remove_state(std::string(temporary_file_name))
                             : write_state(std::string(temporary_file_name), list_.to_text());
    if (problem) {
        return problem->what;
    }
    return std::nullopt;
}

} // namespace memguard
