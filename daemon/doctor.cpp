// `memguardd doctor`: is the port really guarded? Each finding says what to do about it.
#include "status.hpp"

#include "backend.hpp"
#include "config.hpp"
#include "guard.hpp"

#include <cstdio>

namespace memguard {

int run_doctor(const std::string& config_path) {
    int findings = 0;
    auto finding = [&](const std::string& text) {
        std::printf("WARNING: %s\n", text.c_str());
        ++findings;
    };
    std::printf(
        "memguardd programs the legacy iptables tables (x_tables) through libiptc.\n"
        "Debian 12's plain `iptables` is iptables-nft and does not show them: use\n"
        "iptables-legacy -L -n -v / ip6tables-legacy -L -n -v to see memguardd's rules.\n\n");
    auto backend = make_iptc_backend();
    Guard guard(*backend);
    Policy policy;
    bool config_valid = true;
    bool tables_available = true;
    try {
        policy = load_config(config_path);
        std::printf("ok: %s is valid\n", config_path.c_str());
    } catch (const ConfigError& e) {
        finding("the config is invalid, a running daemon fails closed (loopback only):\n  " +
                std::string(e.what()));
        config_valid = false;
    }
    for (const auto family : both_families) {
        try {
            (void)backend->begin(family)->read();
            std::printf("ok: the legacy %s filter table is available\n",
                        std::string(to_string(family)).c_str());
        } catch (const KernelError& e) {
            finding(e.what());
            tables_available = false;
        }
    }
    if (tables_available) {
        if (!config_valid) {
            policy = guard.fail_closed_policy(); // what the daemon would enforce
        }
        const auto report = guard.compare_only(policy);
        for (const auto& f : report.families) {
            for (const auto& d : f.drift) {
                finding("kernel differs from the config: " + d.describe());
            }
        }
        if (report.drift_count() == 0) {
            std::printf("ok: the kernel holds exactly the rules the config asks for\n");
        }
    }
    std::printf("%d finding(s)\n", findings);
    return findings == 0 ? 0 : 1;
}

} // namespace memguard
