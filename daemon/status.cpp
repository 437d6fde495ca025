#include "status.hpp"

#include "backend.hpp"
#include "config.hpp"
#include "control.hpp"
#include "guard.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace memguard {

namespace {

using nlohmann::json;

json rule_json(const KernelRule& k, std::size_t position) {
    return {{"position", position},
            {"rule", k.rule ? to_string(*k.rule) : "(not memguardd's) -j " + k.target},
            {"ours", k.ours()},
            {"packets", k.packets},
            {"bytes", k.bytes}};
}

json view_json(const KernelView& v) {
    json out{{"family", to_string(v.family)}, {"chain_exists", v.chain_exists}};
    out["input"] = json::array(); // every INPUT rule ("ours" tells), so scripts see what is above
    for (std::size_t i = 0; i < v.input.size(); ++i) {
        out["input"].push_back(rule_json(v.input[i], i + 1));
    }
    out["chain"] = json::array();
    for (std::size_t i = 0; i < v.chain.size(); ++i) {
        out["chain"].push_back(rule_json(v.chain[i], i + 1));
    }
    out["set"] = nullptr; // our ipset, when the allowlist is long enough to need one
    if (v.set) {
        out["set"] = {{"name", set_name(v.family)},
                      {"usable", v.set->usable},
                      {"members", v.set->members.size()},
                      {"references", v.set->references}};
    }
    return out;
}

// What the running daemon says about itself; null when none runs in this network namespace.
json daemon_state() {
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
    if (d.value("fail_closed", false)) {
        std::printf("daemon: FAILING CLOSED: the port is open to loopback only%s\n",
                    d.value("config_invalid", false)
                        ? " (the config is invalid; see memguardd check)"
                        : "");
    }
    for (const auto& f : d.value("families", json::array())) {
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

void print_family(const json& f) {
    const auto& input = f["input"];
    const bool any =
        f["chain_exists"].get<bool>() || f["set"].is_object() ||
        std::ranges::any_of(input, [](const json& r) { return r["ours"].get<bool>(); });
    const auto family = f["family"].get<std::string>();
    if (!any) {
        std::printf("%s: nothing of memguardd's in the kernel\n", family.c_str());
        return;
    }
    std::printf("%s:%s\n", family.c_str(),
                f["chain_exists"].get<bool>() ? "" : " (no MEMGUARD chain)");
    print_rules("INPUT (memguardd's rules; position in INPUT):", input, true);
    if (f["chain_exists"].get<bool>()) {
        print_rules("MEMGUARD:", f["chain"]);
    }
    if (const auto& set = f["set"]; set.is_object()) {
        std::printf("  ipset %s: %zu member(s)%s (ipset list %s)\n",
                    set["name"].get<std::string>().c_str(), set["members"].get<std::size_t>(),
                    set["usable"].get<bool>() ? "" : ", NOT a hash:net set of this family",
                    set["name"].get<std::string>().c_str());
    }
}

// The kernel, the config and the daemon, in one JSON document.
json gather(const std::string& config_path, const json& daemon) {
    auto backend = make_iptc_backend();
    Guard guard(*backend);
    json out{{"version", MEMGUARD_VERSION},
             {"backend", "iptables-legacy"},
             {"config", config_path},
             {"daemon", daemon},
             {"families", json::array()}};
    for (const auto& view : guard.read()) {
        out["families"].push_back(view_json(view));
    }
    try {
        out["in_sync"] = guard.compare_only(load_config(config_path)).drift_count() == 0;
    } catch (const ConfigError& e) {
        out["in_sync"] = nullptr;
        out["config_error"] = e.what();
    }
    return out;
}

} // namespace

int print_status(const std::string& config_path, bool as_json, bool config_given) {
    const json daemon = daemon_state();
    // Without --config, the config the running daemon reads.
    const std::string config =
        !config_given && daemon.is_object() ? daemon.value("config", config_path) : config_path;
    const json out = gather(config, daemon);
    // Like systemctl status: 3 not running, 1 running but not as configured, 0 all well.
    const int code = !daemon.is_object()                                            ? 3
                     : daemon.value("fail_closed", false) || out["in_sync"] != true ? 1
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
    print_daemon(daemon);
    std::printf("(the rules are in the legacy tables: iptables-legacy -L -n -v shows them; "
                "Debian's plain `iptables` is the nft variant)\n");
    return code;
}

} // namespace memguard
