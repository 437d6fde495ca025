#include "last_good.hpp"

#include "state_store.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace memguard {

namespace {

using nlohmann::json;

json file_json(const ConfigText& file) {
    return {{"path", file.path}, {"text", file.text}};
}

ConfigText file_of(const json& j) {
    return {j.at("path").get<std::string>(), j.at("text").get<std::string>(), {}};
}

bool any_unreadable(const ConfigSource& source) {
    return !source.main.unreadable.empty() ||
           std::ranges::any_of(source.fragments,
                               [](const ConfigText& f) { return !f.unreadable.empty(); });
}

} // namespace

std::string last_good_text(const LastGood& last_good) {
    json fragments = json::array();
    for (const auto& fragment : last_good.source.fragments) {
        fragments.push_back(file_json(fragment));
    }
    const json out{{"format", 1},
                   {"saved", utc_text(last_good.saved)},
                   {"saved_unix", last_good.saved},
                   {"hash", last_good.hash},
                   {"main", file_json(last_good.source.main)},
                   {"fragments", std::move(fragments)},
                   {"ignored", last_good.source.ignored}};
    return out.dump(2) + "\n";
}

LastGood parse_last_good(std::string_view text) {
    LastGood out;
    try {
        const json doc = json::parse(text);
        if (doc.at("format") != 1) {
            throw std::runtime_error("format " + doc.at("format").dump() + " is not 1");
        }
        out.saved = doc.at("saved_unix").get<std::int64_t>();
        out.hash = doc.at("hash").get<std::string>();
        out.source.main = file_of(doc.at("main"));
        for (const auto& fragment : doc.at("fragments")) {
            out.source.fragments.push_back(file_of(fragment));
        }
        out.source.ignored = doc.at("ignored").get<std::vector<std::string>>();
    } catch (const json::exception& e) {
        throw std::runtime_error(std::string("not a last good policy: ") + e.what());
    }
    if (config_hash(out.source) != out.hash) {
        throw std::runtime_error("its files do not match its hash " + out.hash);
    }
    return out;
}

LastGoodLoad load_last_good(const std::string& config_path) {
    LastGoodLoad out;
    const StateText read = read_state(std::string(last_good_name));
    if (read.error) {
        out.why_not = read.error->what;
        return out;
    }
    if (!read.text) {
        return out;
    }
    const std::string where = state_directory() + "/" + std::string(last_good_name);
    try {
        out.saved = parse_last_good(*read.text);
    } catch (const std::runtime_error& e) {
        out.why_not = where + ": " + e.what();
        return out;
    }
    if (out.saved->source.main.path != config_path) {
        out.why_not =
            where + " was saved for " + out.saved->source.main.path + ", not " + config_path;
        out.saved.reset();
        return out;
    }
    try {
        out.policy = parse_config_source(out.saved->source);
    } catch (const ConfigError& e) {
        out.why_not = where + " does not validate: " + e.problems().front();
    }
    return out;
}

std::optional<std::string> save_last_good(const LastGood& last_good) {
    if (any_unreadable(last_good.source)) {
        return "a file of the config could not be read";
    }
    std::string text;
    try {
        text = last_good_text(last_good);
    } catch (const json::exception& e) {
        return std::string("the config is not UTF-8 text: ") + e.what();
    }
    if (auto failed = write_state(std::string(last_good_name), text)) {
        return failed->what;
    }
    return std::nullopt;
}

std::string saved_last_good_hash() {
    const StateText read = read_state(std::string(last_good_name));
    if (!read.text) {
        return "";
    }
    try {
        return json::parse(*read.text).at("hash").get<std::string>();
    } catch (const json::exception&) {
        return "";
    }
}

} // namespace memguard
