#include "running_config.hpp"

#include "config.hpp"
#include "control.hpp"

#include <stdexcept>

namespace memguard {

using nlohmann::json;

json ask_daemon_status() {
    const auto answer = ask_daemon("status");
    if (!answer) {
        return nullptr;
    }
    try {
        return json::parse(*answer);
    } catch (const json::exception& e) {
        throw std::runtime_error(std::string("memguardd answered status with no JSON: ") +
                                 e.what());
    }
}

std::optional<std::string> last_good_line(const json& daemon) {
    if (!daemon.is_object() || daemon.value("policy_source", "") != "last_good") {
        return std::nullopt;
    }
    const json problem = daemon.value("config_problem", json::object());
    return "running the last good config from " + daemon.value("config_loaded", "?") + "; " +
           (problem.is_object()
                ? problem.value("file", "?") + " is invalid: " + problem.value("problem", "?")
                : std::string("the config is invalid"));
}

std::optional<DiskVersusRunning> disk_versus_running(const std::string& config_path,
                                                     const json& daemon) {
    if (!daemon.is_object() || daemon.value("config", "") != config_path ||
        daemon.value("config_hash", "").empty()) {
        return std::nullopt;
    }
    std::optional<ConfigSource> source;
    try {
        source = read_config_source(config_path);
    } catch (const ConfigError&) {
        // the fragment directory cannot be listed: not what any daemon runs
    }
    if (source && config_hash(*source) == daemon.value("config_hash", "")) {
        return DiskVersusRunning{true, "is what memguardd runs"};
    }
    const std::string differs =
        "differs from what memguardd runs (loaded " + daemon.value("config_loaded", "?") + "); ";
    // Validated only when it changed: the unchanged files validated when they were loaded.
    try {
        if (source) {
            (void)parse_config_source(*source);
            return DiskVersusRunning{false, differs + "systemctl reload memguardd applies it"};
        }
    } catch (const ConfigError&) {
    }
    return DiskVersusRunning{false, differs + "it is invalid, so a reload would be rejected "
                                              "(memguardd check names what is wrong)"};
}

} // namespace memguard
