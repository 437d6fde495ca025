#include "commands.hpp"

#include "config.hpp"
#include "config_warnings.hpp"
#include "guard.hpp"
#include "revocation.hpp"
#include "ruleset.hpp"
#include "service.hpp"
#include "status.hpp"

#include <cstdio>
#include <iostream>

namespace memguard {

namespace {

void print_problems(const ConfigError& e) {
    for (const auto& p : e.problems()) {
        std::fprintf(stderr, "memguardd: %s\n", p.c_str());
    }
}

int check(const Options& o) {
    try {
        const Policy p = load_config(o.config);
        std::printf("%s: ok (%zu port(s), %zu network(s) allowed)\n", o.config.c_str(),
                    p.ports.size(), p.allow.size());
        std::fflush(stdout); // the warnings follow the ok line, also when both go to one file
        for (const auto& w : config_warnings(p)) {
            std::fprintf(stderr, "memguardd: warning: %s: %s\n", o.config.c_str(), w.c_str());
        }
        return 0;
    } catch (const ConfigError& e) {
        print_problems(e);
        return 1;
    }
}

void print_report(const Report& report, const char* verb) {
    for (const auto& f : report.families) {
        for (const auto& d : f.drift) {
            std::printf("%s\n", d.describe().c_str());
        }
        std::printf("%s: %s\n", std::string(to_string(f.family)).c_str(),
                    f.committed ? verb : "unchanged");
    }
}

int apply(const Options& o) {
    Policy policy;
    try {
        policy = load_config(o.config);
    } catch (const ConfigError& e) {
        print_problems(e);
        std::fprintf(stderr, "memguardd: nothing applied; the kernel is unchanged\n");
        return 1;
    }
    auto backend = make_iptc_backend();
    const Report report = Guard(*backend).reconcile(policy, FirstLook::locked);
    print_report(report, "applied");
    if (const auto sources = revoked_sources(report); !sources.empty()) {
        std::printf("cut %zu open connection(s) from networks no longer allowed\n",
                    revoke_connections(sources, policy));
    }
    return 0;
}

int diff(const Options& o) {
    try {
        const Policy policy = load_config(o.config);
        auto backend = make_iptc_backend();
        const Report report = Guard(*backend).compare_only(policy);
        for (const auto& f : report.families) {
            for (const auto& d : f.drift) {
                std::printf("%s\n", d.describe().c_str());
            }
        }
        if (report.drift_count() == 0) {
            std::printf("in sync: the kernel holds exactly the rules %s asks for\n",
                        o.config.c_str());
            return 0;
        }
        return 1;
    } catch (const ConfigError& e) {
        print_problems(e);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "memguardd: %s\n", e.what());
        return 2;
    }
}

int remove() {
    auto backend = make_iptc_backend();
    Guard guard(*backend);
    const auto before = guard.read();
    const Report report = guard.remove();
    for (std::size_t i = 0; i < report.families.size(); ++i) {
        const auto family = report.families[i].family;
        std::size_t jumps = 0;
        for (const auto& r : before[i].input) {
            jumps += r.ours() ? 1 : 0;
        }
        std::string removed;
        auto add = [&removed](const std::string& part) {
            removed += (removed.empty() ? "removed " : " and ") + part;
        };
        if (jumps > 0) {
            add(std::to_string(jumps) + " jump rule(s)");
        }
        if (before[i].chain_exists) {
            add("chain " + std::string(chain_name));
        }
        if (before[i].set) {
            add("ipset " + set_name(family));
        }
        std::printf("%s: %s\n", std::string(to_string(family)).c_str(),
                    report.families[i].committed && !removed.empty()
                        ? removed.c_str()
                        : "nothing of memguardd's was there");
    }
    return 0;
}

} // namespace

int run_command(const Options& o) {
    switch (o.command) {
    case Command::help:
        std::fputs(usage_text, stdout);
        return 0;
    case Command::version:
        std::puts("memguardd " MEMGUARD_VERSION);
        return 0;
    case Command::check:
        return check(o);
    case Command::apply:
        return apply(o);
    case Command::diff:
        return diff(o);
    case Command::remove:
        return remove();
    case Command::status:
        return print_status(o.config, o.json);
    case Command::doctor:
        return run_doctor(o.config);
    case Command::run:
        return run_service(o.config);
    }
    return 2;
}

} // namespace memguard
