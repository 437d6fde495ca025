#include "verify.hpp"

#include "config.hpp"
#include "control.hpp"
#include "daemon_state.hpp"
#include "guard.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace memguard {

namespace {

using nlohmann::json;

int print_pass(const json& pass, bool as_json, bool daemon) {
    const auto errors = pass.value("errors", json::array());
    const auto drift = pass.value("drift", json::array());
    const bool repaired = pass.value("repaired", false);
    if (as_json) {
        json out = pass;
        out["daemon"] = daemon;
        std::cout << out.dump(2) << '\n';
    } else {
        for (const auto& line : drift) {
            std::printf("%s\n", line.get<std::string>().c_str());
        }
        for (const auto& line : errors) {
            std::fprintf(stderr, "memguardd: %s\n", line.get<std::string>().c_str());
        }
        if (!daemon) {
            std::printf("%s (memguardd is not running here: compared only, repaired nothing)\n",
                        drift.empty() ? "in sync" : "DIFFERS from the config");
        } else if (errors.empty()) {
            std::printf("%s\n", repaired ? "repaired: the kernel holds the configured rules again"
                                : drift.empty() ? "in sync: nothing to repair"
                                                : "differences found, nothing written");
        }
    }
    if (!errors.empty()) {
        return 2;
    }
    return drift.empty() ? 0 : 1;
}

} // namespace

int run_verify(const Options& o) {
    try {
        if (const auto answer = ask_daemon("verify")) {
            return print_pass(json::parse(*answer), o.json, true);
        }
        const Policy policy = load_config(o.config);
        return print_pass(pass_json(Guard(policy.backend).compare(policy)), o.json, false);
    } catch (const ConfigError& e) {
        for (const auto& p : e.problems()) {
            std::fprintf(stderr, "memguardd: %s\n", p.c_str());
        }
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "memguardd: verify: %s\n", e.what());
        return 2;
    }
}

} // namespace memguard
