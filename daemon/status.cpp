#include "status.hpp"

#include "config.hpp"
#include "control.hpp"
#include "guard.hpp"
#include "running_config.hpp"
#include "status_guards.hpp"
#include "status_text.hpp"
#include "temporary_cli.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace memguard {

namespace {

using nlohmann::json;

json view_json(const FamilyView& v) {
    json out{{"family", to_string(v.family)}, {"chains", json::array()}, {"sets", json::array()}};
    for (const auto& c : v.chains) {
        json rules = json::array(); // every rule of a chain we share ("ours" tells)
        for (const auto& r : c.rules) {
            rules.push_back({{"position", r.position},
                             {"rule", r.text},
                             {"ours", r.ours},
                             {"packets", r.packets},
                             {"bytes", r.bytes}});
        }
        out["chains"].push_back(
            {{"name", c.name}, {"exists", c.exists}, {"ours", c.ours}, {"rules", rules}});
    }
    for (const auto& set : v.sets) {
        out["sets"].push_back({{"name", set.name},
                               {"ours", set.ours},
                               {"usable", set.usable},
                               {"members", set.members},
                               {"references", set.references}});
    }
    return out;
}

// What every status document starts with: the version, the config, the daemon's answer and
// whoever squats on the daemon's abstract name.
json status_head(const std::string& config_path, const json& daemon) {
    json out{{"version", MEMGUARD_VERSION}, {"config", config_path}, {"daemon", daemon}};
    const auto squatter = abstract_name_squatter();
    out["squatter"] = squatter ? json(squatter->describe()) : json();
    return out;
}

// The kernel, the config and the daemon, in one JSON document.
json gather(const std::string& config_path, const json& daemon) {
    std::optional<Policy> policy;
    json out = status_head(config_path, daemon);
    try {
        policy = load_config(config_path);
    } catch (const ConfigError& e) {
        out["in_sync"] = nullptr;
        out["config_error"] = e.what();
    }
    // The running daemon's backend; without one, the one the config would pick.
    BackendChoice choice = policy ? policy->backend : BackendChoice::automatic;
    const std::string running = daemon.is_object() ? daemon.value("backend", "") : "";
    if (running == to_string(BackendChoice::nftables)) {
        choice = BackendChoice::nftables;
    } else if (running == to_string(BackendChoice::iptables_legacy)) {
        choice = BackendChoice::iptables_legacy;
    }
    Guard guard(choice);
    out["backend"] = guard.backend_name();
    // A running daemon's backend was its choice: say its reason, not ours for following it.
    out["backend_why"] =
        running.empty() ? guard.backend_why() : daemon.value("backend_why", guard.backend_why());
    out["how_to_see"] = guard.backend().how_to_see();
    out["families"] = json::array();
    for (const auto& view : guard.read()) {
        out["families"].push_back(view_json(view));
    }
    if (policy) {
        out["guards"] = guards_json(*policy);
        out["fragments"] = fragment_files(config_path);
        // What the daemon enforces: the config and its temporary entries.
        Policy enforced = with_daemon_temporary(*policy, config_path, daemon);
        enforced.backend = choice;
        out["in_sync"] = guard.compare(enforced).drift_count() == 0;
    }
    return out;
}

// The summary of a daemon that runs the very files on disk, as the daemon tells it: their guards
// as it counted them when it loaded them, and in sync or not as its last pass found the kernel
// (the kernel tells the daemon of every change to our table, and the daemon verifies at every
// tick). Nothing is validated or read from the kernel again; nullopt when the daemon cannot
// answer for the files on disk.
std::optional<json> daemon_summary(const std::string& config_path, const json& daemon,
                                   const std::optional<DiskVersusRunning>& versus) {
    if (!versus || !versus->same || daemon.value("policy_source", "") != "config" ||
        !daemon.contains("guards") || !daemon.value("in_sync", json()).is_boolean() ||
        !daemon.value("backend", json()).is_string() ||
        !daemon.value("backend_why", json()).is_string()) {
        return std::nullopt;
    }
    json out = status_head(config_path, daemon);
    out["backend"] = daemon["backend"];
    out["backend_why"] = daemon["backend_why"];
    out["guards"] = daemon["guards"];
    out["in_sync"] = daemon["in_sync"];
    return out;
}

} // namespace

int print_status(const std::string& config_path, const StatusOptions& options) {
    const json daemon = ask_daemon_status();
    // Without --config, the config the running daemon reads.
    const std::string config = !options.config_given && daemon.is_object()
                                   ? daemon.value("config", config_path)
                                   : config_path;
    const auto versus = disk_versus_running(config, daemon);
    // The summary alone needs nothing the daemon cannot tell; --json and --verbose show the
    // kernel's rules and sets and every entry of the config, read now.
    const auto told =
        options.json || options.verbose ? std::nullopt : daemon_summary(config, daemon, versus);
    json out = told ? *told : gather(config, daemon);
    out["runs_config_on_disk"] = versus ? json(versus->same) : json();
    out["config_on_disk"] = versus && !versus->same ? versus->line : "";
    out["last_good"] = last_good_line(daemon).value_or("");
    // Like systemctl status: 3 not running, 1 running but not as configured, 0 all well.
    const int code = !daemon.is_object() ? 3
                     : daemon.value("fail_closed", false) || out["in_sync"] != true ||
                             daemon.value("policy_source", "config") != "config" ||
                             daemon.value("config_invalid", false)
                         ? 1
                         : 0;
    if (options.json) {
        std::cout << out.dump(2) << '\n';
        return code;
    }
    for (const auto& line : status_summary(out)) {
        std::cout << line << '\n';
    }
    if (options.verbose) {
        std::cout << '\n';
        for (const auto& line : status_details(out)) {
            std::cout << line << '\n';
        }
    }
    return code;
}

} // namespace memguard
