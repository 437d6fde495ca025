#include "temporary.hpp"

#include "label_text.hpp"
#include "utc_text.hpp"

#include <algorithm>
#include <ctime>
#include <stdexcept>

namespace memguard {

namespace {

using nlohmann::json;

std::string guard_names(const Policy& config) {
    std::string out;
    for (const auto& g : config.guards) {
        out.append(out.empty() ? "" : ", ").append(g.name);
    }
    return out;
}

// The guard `name` names; with no name, the config's only one.
const GuardSpec& pick_guard(const Policy& config, const std::string& name) {
    if (name.empty()) {
        if (config.guards.size() == 1) {
            return config.guards.front();
        }
        throw std::invalid_argument("the config has " + std::to_string(config.guards.size()) +
                                    " guards (" + guard_names(config) + "): name one with --guard");
    }
    const auto at = std::ranges::find(config.guards, name, &GuardSpec::name);
    if (at == config.guards.end()) {
        throw std::invalid_argument("no guard \"" + name +
                                    "\" in the config (its guards: " + guard_names(config) + ")");
    }
    return *at;
}

// `text` as an allowlist network, checked as the config's entries are.
Network read_target(const std::string& text) {
    const auto net = parse_network(text);
    if (!net) {
        throw std::invalid_argument("\"" + text + "\" is not an IPv4 or IPv6 address or network");
    }
    if (net->has_host_bits()) {
        throw std::invalid_argument("\"" + text + "\" has host bits set; did you mean \"" +
                                    net->canonical().to_string() + "\"?");
    }
    return *net;
}

// The config's entry of `guard` that lets `net` in already (the same network or a larger one).
std::optional<Network> config_entry_for(const GuardSpec& guard, const Network& net) {
    for (const auto& allowed : guard.allow) {
        if (allowed.family == net.family && allowed.contains(net)) {
            return allowed;
        }
    }
    return std::nullopt;
}

std::string where_listed(const GuardSpec& guard, const Network& entry, const ListedNames& names) {
    const auto at = guard.listed_at.by_network.find(entry);
    return at == guard.listed_at.by_network.end() ? "the config" : names.where(at->second);
}

TemporaryEntry entry_from_json(const json& e) {
    TemporaryEntry out;
    out.guard = e.at("guard").get<std::string>();
    out.network = read_target(e.at("net").get<std::string>());
    if (e.contains("comment") && !e["comment"].is_null()) {
        out.comment = e["comment"].get<std::string>();
        if (const auto wrong = label_problem(*out.comment)) {
            throw std::invalid_argument("its comment " + *wrong);
        }
    }
    const auto granted = parse_iso8601(e.at("granted").get<std::string>());
    const auto expires = parse_iso8601(e.at("expires").get<std::string>());
    if (!granted || !expires) {
        throw std::invalid_argument("\"granted\" and \"expires\" are not UTC times "
                                    "(2026-12-06T14:00:00Z)");
    }
    out.granted = *granted;
    out.expires = *expires;
    return out;
}

json entry_json(const TemporaryEntry& e) {
    return {{"guard", e.guard},
            {"net", e.network.to_string()},
            {"comment", e.comment ? json(*e.comment) : json()},
            {"granted", iso8601(e.granted)},
            {"expires", iso8601(e.expires)}};
}

} // namespace

std::string iso8601(WallSeconds t) {
    return utc_text(t.time_since_epoch().count());
}

std::optional<WallSeconds> parse_iso8601(std::string_view text) {
    const std::string copy(text);
    std::tm utc{};
    const char* end = ::strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc);
    if (end == nullptr || *end != '\0') {
        return std::nullopt;
    }
    return WallSeconds(std::chrono::seconds(::timegm(&utc)));
}

std::string ListedNames::where(const ListedAt& at) const {
    return (at.file.empty() ? config_path : at.file) + " at " + at.path;
}

TemporaryList TemporaryList::parse(std::string_view text, std::vector<std::string>& problems) {
    TemporaryList out;
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::exception& e) {
        problems.push_back(std::string("not JSON: ") + e.what());
        return out;
    }
    if (!doc.is_object() || !doc.contains("temporary") || !doc["temporary"].is_array()) {
        problems.emplace_back("not an object with a \"temporary\" array");
        return out;
    }
    const json& list = doc["temporary"];
    for (std::size_t i = 0; i < list.size(); ++i) {
        try {
            out.entries_.push_back(entry_from_json(list[i]));
        } catch (const std::exception& e) {
            problems.push_back("temporary[" + std::to_string(i) + "]: " + e.what());
        }
    }
    return out;
}

std::string TemporaryList::to_text() const {
    json list = json::array();
    for (const auto& e : entries_) {
        list.push_back(entry_json(e));
    }
    return json{{"temporary", std::move(list)}}.dump(2) + "\n";
}

TemporaryEntry TemporaryList::grant(const GrantRequest& request, const Policy& config,
                                    WallSeconds now, const ListedNames& names) {
    const GuardSpec& guard = pick_guard(config, request.guard);
    const Network net = read_target(request.target);
    if (request.comment) {
        if (const auto wrong = label_problem(*request.comment)) {
            throw std::invalid_argument("the comment " + *wrong);
        }
    }
    if (const auto listed = config_entry_for(guard, net)) {
        throw std::invalid_argument(
            net.to_string() + " is already allowed by " + where_listed(guard, *listed, names) +
            (*listed == net ? "" : " (" + listed->to_string() + ")") + " in guard " + guard.name);
    }
    TemporaryEntry entry{guard.name, net, request.comment, now, now + request.length};
    const auto same = std::ranges::find_if(entries_, [&](const TemporaryEntry& e) {
        return e.guard == guard.name && e.network == net;
    });
    if (same != entries_.end()) {
        *same = entry; // renewed: its new length counts from now
    } else {
        entries_.push_back(entry);
    }
    return entry;
}

TemporaryEntry TemporaryList::revoke(const std::string& target, const std::string& guard,
                                     const Policy& config, const ListedNames& names) {
    const Network net = read_target(target);
    std::vector<std::vector<TemporaryEntry>::iterator> found;
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->network == net && (guard.empty() || it->guard == guard)) {
            found.push_back(it);
        }
    }
    if (found.size() == 1) {
        TemporaryEntry gone = *found.front();
        entries_.erase(found.front());
        return gone;
    }
    if (found.size() > 1) {
        throw std::invalid_argument(net.to_string() +
                                    " has a temporary entry in several guards: name one with "
                                    "--guard");
    }
    for (const auto& g : config.guards) {
        const auto at = g.listed_at.by_network.find(net);
        if ((guard.empty() || g.name == guard) && at != g.listed_at.by_network.end()) {
            throw std::invalid_argument(net.to_string() +
                                        " is in the config, not a temporary entry: edit " +
                                        names.where(at->second) + " to take it out, then reload");
        }
    }
    throw std::invalid_argument("no temporary entry for " + net.to_string() +
                                (guard.empty() ? "" : " in guard " + guard));
}

std::vector<TemporaryEntry> TemporaryList::expire(WallSeconds now) {
    std::vector<TemporaryEntry> gone;
    std::erase_if(entries_, [&](const TemporaryEntry& e) {
        if (e.expires > now) {
            return false;
        }
        gone.push_back(e);
        return true;
    });
    return gone;
}

std::optional<WallSeconds> TemporaryList::next_expiry() const {
    if (entries_.empty()) {
        return std::nullopt;
    }
    return std::ranges::min_element(entries_, {}, &TemporaryEntry::expires)->expires;
}

Policy TemporaryList::applied_to(const Policy& config, const std::string& temporary_path) const {
    Policy out = config;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        const TemporaryEntry& e = entries_[i];
        const auto guard = std::ranges::find(out.guards, e.guard, &GuardSpec::name);
        if (guard == out.guards.end() || std::ranges::count(guard->allow, e.network) > 0) {
            continue;
        }
        guard->allow.push_back(e.network);
        guard->listed_at.by_network.emplace(
            e.network, ListedAt{temporary_path, "temporary[" + std::to_string(i) + "]"});
        if (e.comment) {
            guard->labels.emplace(e.network, *e.comment);
        }
    }
    return out;
}

json TemporaryList::to_json(WallSeconds now) const {
    json out = json::array();
    for (const auto& e : entries_) {
        json entry = entry_json(e);
        entry["expires_in_s"] = std::max<std::int64_t>(0, (e.expires - now).count());
        out.push_back(std::move(entry));
    }
    return out;
}

} // namespace memguard
