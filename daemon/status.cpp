#include "status.hpp"

#include "config.hpp"
#include "control.hpp"
#include "guard.hpp"
#include "running_config.hpp"
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

// The config's guards as status shows them: every entry, with its label when it has one.
json guards_json(const Policy& policy) {
    json out = json::array();
    for (const auto& g : policy.guards) {
        json allow = json::array();
        for (const auto& net : g.allow) {
            const auto label = g.labels.find(net);
            allow.push_back({{"net", net.to_string()},
                             {"label", label == g.labels.end() ? json() : json(label->second)}});
        }
        json protocols = json::array();
        for (const auto p : g.protocols) {
            protocols.push_back(to_string(p));
        }
        out.push_back({{"name", g.name},
                       {"ports", g.ports},
                       {"protocols", std::move(protocols)},
                       {"allow", std::move(allow)}});
    }
    return out;
}

// The kernel, the config and the daemon, in one JSON document.
json gather(const std::string& config_path, const json& daemon) {
    std::optional<Policy> policy;
    json out{{"version", MEMGUARD_VERSION}, {"config", config_path}, {"daemon", daemon}};
    const auto squatter = abstract_name_squatter();
    out["squatter"] = squatter ? json(squatter->describe()) : json();
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

} // namespace

int print_status(const std::string& config_path, const StatusOptions& options) {
    const json daemon = ask_daemon_status();
    // Without --config, the config the running daemon reads.
    const std::string config = !options.config_given && daemon.is_object()
                                   ? daemon.value("config", config_path)
                                   : config_path;
    json out = gather(config, daemon);
    const auto versus = disk_versus_running(config, daemon);
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
