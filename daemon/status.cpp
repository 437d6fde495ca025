#include "status.hpp"

#include "backend.hpp"
#include "config.hpp"
#include "guard.hpp"
#include "state_file.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
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
    out["jumps"] = json::array();
    for (std::size_t i = 0; i < v.input.size(); ++i) {
        if (v.input[i].ours()) {
            out["jumps"].push_back(rule_json(v.input[i], i + 1));
        }
    }
    out["input"] = json::array(); // every INPUT rule, so scripts see what sits above our jumps
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

json daemon_state() {
    std::ifstream in(runtime_dir() + "/state.json");
    if (!in) {
        return nullptr;
    }
    try {
        return json::parse(in);
    } catch (const json::exception&) {
        return nullptr;
    }
}

void print_rules(const char* title, const json& rules) {
    std::printf("  %s\n", title);
    for (const auto& r : rules) {
        std::printf("    %3zu %12llu pkts %14llu bytes  %s\n", r["position"].get<std::size_t>(),
                    static_cast<unsigned long long>(r["packets"].get<std::uint64_t>()),
                    static_cast<unsigned long long>(r["bytes"].get<std::uint64_t>()),
                    r["rule"].get<std::string>().c_str());
    }
}

} // namespace

int print_status(const std::string& config_path, bool as_json) {
    auto backend = make_iptc_backend();
    Guard guard(*backend);
    json out{{"families", json::array()}, {"daemon", daemon_state()}};
    for (const auto& view : guard.read()) {
        out["families"].push_back(view_json(view));
    }
    std::size_t drift = 0;
    try {
        drift = guard.compare_only(load_config(config_path)).drift_count();
        out["in_sync"] = drift == 0;
    } catch (const ConfigError& e) {
        out["in_sync"] = nullptr;
        out["config_error"] = e.what();
    }
    if (as_json) {
        std::cout << out.dump(2) << '\n';
        return 0;
    }
    for (const auto& f : out["families"]) {
        std::printf("%s:%s\n", f["family"].get<std::string>().c_str(),
                    f["chain_exists"].get<bool>() ? "" : " (no MEMGUARD chain)");
        print_rules("INPUT (memguardd's jumps; position in INPUT):", f["jumps"]);
        print_rules("MEMGUARD:", f["chain"]);
        if (const auto& set = f["set"]; set.is_object()) {
            std::printf("  ipset %s: %zu member(s)%s (ipset list %s)\n",
                        set["name"].get<std::string>().c_str(), set["members"].get<std::size_t>(),
                        set["usable"].get<bool>() ? "" : ", NOT a hash:net set of this family",
                        set["name"].get<std::string>().c_str());
        }
    }
    if (out["in_sync"].is_null()) {
        std::printf("config %s: %s\n", config_path.c_str(),
                    out["config_error"].get<std::string>().c_str());
    } else {
        std::printf("config %s: %s\n", config_path.c_str(),
                    drift == 0 ? "in sync" : "DIFFERS from the kernel (see memguardd diff)");
    }
    const auto& d = out["daemon"];
    if (d.is_object()) {
        std::printf("daemon: last apply %s, last repair %s, repairs %llu\n",
                    d.value("last_apply", "never").c_str(), d.value("last_repair", "never").c_str(),
                    static_cast<unsigned long long>(d.value("repairs", 0ULL)));
    } else {
        std::printf("daemon: no state in %s (not running?)\n", runtime_dir().c_str());
    }
    std::printf("(the rules are in the legacy tables: iptables-legacy -L -n -v shows them; "
                "Debian's plain `iptables` is the nft variant)\n");
    return 0;
}

} // namespace memguard
