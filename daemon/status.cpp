#include "status.hpp"

#include "config.hpp"
#include "control.hpp"
#include "guard.hpp"
#include "running_config.hpp"

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

void print_daemon(const json& d) {
    if (!d.is_object()) {
        std::printf("daemon: not running in this network namespace (systemctl start memguardd)\n");
        return;
    }
    std::printf("daemon: running, pid %d, since %s, backend %s, config %s\n", d.value("pid", 0),
                d.value("started", "?").c_str(), d.value("backend", "?").c_str(),
                d.value("config", "?").c_str());
    std::printf("daemon: last apply %s, last repair %s, repairs %llu\n",
                d.value("last_apply", "never").c_str(), d.value("last_repair", "never").c_str(),
                static_cast<unsigned long long>(d.value("repairs", 0ULL)));
    if (const auto drift = d.value("last_drift", ""); !drift.empty()) {
        std::printf("daemon: last drift: %s\n", drift.c_str());
    }
    if (const auto line = last_good_line(d)) {
        std::printf("daemon: %s\n", line->c_str());
    }
    if (d.value("fail_closed", false)) {
        std::printf("daemon: FAILING CLOSED%s\n",
                    d.value("config_invalid", false)
                        ? " (the config is invalid; see memguardd check)"
                        : "");
    }
    for (const auto& f : d.value("families", json::array())) {
        if (const auto scope = f.value("closed_scope", ""); !scope.empty()) {
            std::printf("daemon: %s: failing closed: %s\n", f.value("family", "?").c_str(),
                        scope.c_str());
        }
        if (const auto error = f.value("error", ""); !error.empty()) {
            std::printf("daemon: %s: %s\n", f.value("family", "?").c_str(), error.c_str());
        }
        for (const auto& line : f.value("refused", json::array())) {
            std::printf("daemon: %s\n", line.get<std::string>().c_str());
        }
    }
}

void print_rules(const char* title, const json& rules, bool ours_only = false) {
    std::printf("  %s\n", title);
    for (const auto& r : rules) {
        if (ours_only && !r["ours"].get<bool>()) {
            continue;
        }
        std::printf("    %3zu %12llu pkts %14llu bytes  %s\n", r["position"].get<std::size_t>(),
                    static_cast<unsigned long long>(r["packets"].get<std::uint64_t>()),
                    static_cast<unsigned long long>(r["bytes"].get<std::uint64_t>()),
                    r["rule"].get<std::string>().c_str());
    }
}

bool any_of_ours(const json& f) {
    return std::ranges::any_of(f["chains"],
                               [](const json& c) {
                                   return (c["exists"].get<bool>() && c["ours"].get<bool>()) ||
                                          std::ranges::any_of(c["rules"], [](const json& r) {
                                              return r["ours"].get<bool>();
                                          });
                               }) ||
           !f["sets"].empty();
}

void print_family(const json& f) {
    const auto family = f["family"].get<std::string>();
    if (!any_of_ours(f)) {
        std::printf("%s: nothing of memguardd's in the kernel\n", family.c_str());
        return;
    }
    std::printf("%s:\n", family.c_str());
    for (const auto& c : f["chains"]) {
        const auto name = c["name"].get<std::string>();
        if (!c["exists"].get<bool>()) {
            std::printf("  %s: missing\n", name.c_str());
        } else if (c["ours"].get<bool>()) {
            print_rules((name + ":").c_str(), c["rules"]);
        } else {
            std::string title = name;
            title.append(" (memguardd's rules; position in ").append(name).append("):");
            print_rules(title.c_str(), c["rules"], true);
        }
    }
    for (const auto& set : f["sets"]) {
        std::printf("  set %s: %zu member(s)%s%s\n", set["name"].get<std::string>().c_str(),
                    set["members"].get<std::size_t>(),
                    set["usable"].get<bool>() ? "" : ", NOT a set of plain networks of this family",
                    set["ours"].get<bool>() ? "" : ", NOT memguardd's");
    }
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

// "guard pages (tcp 11212, 11213): 2 networks allowed; 10.3.0.0/24 "web tier""
void print_guards(const json& guards) {
    for (const auto& g : guards) {
        std::string line = "guard " + g["name"].get<std::string>() + " (";
        for (const auto& p : g["protocols"]) {
            line += p.get<std::string>() + (&p == &g["protocols"].back() ? " " : "/");
        }
        for (const auto& port : g["ports"]) {
            line += std::to_string(port.get<int>()) + (&port == &g["ports"].back() ? "" : ", ");
        }
        line += "): " + std::to_string(g["allow"].size()) + " network(s) allowed";
        std::string labelled;
        for (const auto& e : g["allow"]) {
            if (!e["label"].is_null()) {
                labelled += (labelled.empty() ? "; " : ", ") + e["net"].get<std::string>() + " \"" +
                            e["label"].get<std::string>() + "\"";
            }
        }
        std::printf("%s%s\n", line.c_str(), labelled.c_str());
    }
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
        policy->backend = choice;
        out["in_sync"] = guard.compare(*policy).drift_count() == 0;
    }
    return out;
}

} // namespace

int print_status(const std::string& config_path, bool as_json, bool config_given) {
    const json daemon = ask_daemon_status();
    // Without --config, the config the running daemon reads.
    const std::string config =
        !config_given && daemon.is_object() ? daemon.value("config", config_path) : config_path;
    json out = gather(config, daemon);
    const auto versus = disk_versus_running(config, daemon);
    out["runs_config_on_disk"] = versus ? json(versus->same) : json();
    out["last_good"] = last_good_line(daemon).value_or("");
    // Like systemctl status: 3 not running, 1 running but not as configured, 0 all well.
    const int code = !daemon.is_object() ? 3
                     : daemon.value("fail_closed", false) || out["in_sync"] != true ||
                             daemon.value("policy_source", "config") != "config" ||
                             daemon.value("config_invalid", false)
                         ? 1
                         : 0;
    if (as_json) {
        std::cout << out.dump(2) << '\n';
        return code;
    }
    for (const auto& f : out["families"]) {
        print_family(f);
    }
    if (out["in_sync"].is_null()) {
        std::printf("config %s: %s\n", config.c_str(),
                    out["config_error"].get<std::string>().c_str());
    } else {
        std::printf("config %s: %s\n", config.c_str(),
                    out["in_sync"].get<bool>() ? "in sync"
                                               : "DIFFERS from the kernel (see memguardd diff)");
    }
    if (versus && !versus->same) {
        std::printf("config %s: %s\n", config.c_str(), versus->line.c_str());
    }
    if (out.contains("guards")) {
        print_guards(out["guards"]);
    }
    print_daemon(daemon);
    if (!out["squatter"].is_null()) {
        std::printf("WARNING: %s\n", out["squatter"].get<std::string>().c_str());
    }
    std::printf("backend %s (%s); %s\n", out["backend"].get<std::string>().c_str(),
                out["backend_why"].get<std::string>().c_str(),
                out["how_to_see"].get<std::string>().c_str());
    return code;
}

} // namespace memguard
