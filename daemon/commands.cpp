#include "commands.hpp"

#include "clients.hpp"
#include "config.hpp"
#include "config_warnings.hpp"
#include "control.hpp"
#include "explain.hpp"
#include "guard.hpp"
#include "passes.hpp"
#include "running_config.hpp"
#include "service.hpp"
#include "status.hpp"
#include "temporary_cli.hpp"
#include "verify.hpp"

#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace memguard {

namespace {

void print_problems(const ConfigError& e) {
    for (const auto& p : e.problems()) {
        std::fprintf(stderr, "memguardd: %s\n", p.c_str());
    }
}

// Whether the files on disk are what the running daemon enforces; nothing when none runs.
void print_versus_running(const std::string& config) {
    try {
        if (const auto versus = disk_versus_running(config, ask_daemon_status())) {
            std::printf("%s: %s\n", config.c_str(), versus->line.c_str());
        }
    } catch (const std::exception&) {
        // a daemon that answers no JSON: status says so; check checks the file
    }
}

int check(const Options& o) {
    try {
        const Policy p = load_config(o.config);
        const auto fragments = fragment_files(o.config);
        std::printf("%s: ok (%zu guard(s), %zu port(s), %zu network(s) allowed, %zu fragment(s))\n",
                    o.config.c_str(), p.guards.size(), all_ports(p).size(), all_networks(p).size(),
                    fragments.size());
        std::fflush(stdout); // the warnings follow the ok line, also when both go to one file
        for (const auto& w : config_warnings(p)) {
            std::fprintf(stderr, "memguardd: warning: %s\n", w.located(o.config).c_str());
        }
        print_versus_running(o.config);
        return 0;
    } catch (const ConfigError& e) {
        print_problems(e);
        print_versus_running(o.config);
        return 1;
    }
}

// The daemon keeps the rules as its config says: a one-off change beside it would be undone,
// or (remove) leave it repairing what was just taken out.
bool daemon_in_the_way(const Options& o, const char* command) {
    if (o.force) {
        return false;
    }
    const auto pid = running_daemon();
    if (!pid) {
        return false;
    }
    std::fprintf(stderr,
                 "memguardd: memguardd is running in this network namespace (pid %d) and keeps "
                 "the rules as its config says; %s now would fight it. Use systemctl (reload, "
                 "stop) instead, or --force to %s anyway\n",
                 static_cast<int>(*pid), command, command);
    return true;
}

void print_family_notes(const FamilyReport& f) {
    for (const auto& line : f.refused) {
        std::fprintf(stderr, "memguardd: %s\n", line.c_str());
    }
    if (!f.error.empty()) {
        std::fprintf(stderr, "memguardd: %s: %s%s\n", std::string(to_string(f.family)).c_str(),
                     f.error.c_str(),
                     f.fail_closed ? (" (failed closed: " + f.closed_scope + ")").c_str() : "");
    }
}

// One line per family: what was done ("ipv4: created chain MEMGUARD with 4 rules, ..."),
// "unchanged" or "FAILED" (why on stderr).
void print_report(const Report& report) {
    for (const auto& f : report.families) {
        print_family_notes(f);
        std::printf("%s: %s\n", std::string(to_string(f.family)).c_str(),
                    !f.error.empty() ? "FAILED"
                    : f.committed    ? f.actions.c_str()
                                     : "unchanged");
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
    if (daemon_in_the_way(o, "apply")) {
        return 1;
    }
    Guard guard(policy.backend);
    std::printf("backend: %s (%s)\n", std::string(guard.backend_name()).c_str(),
                guard.backend_why().c_str());
    const Pass pass = guard.pass(policy, PassKind::apply);
    print_report(pass.report);
    if (pass.revocation &&
        (pass.revocation->cut.deleted > 0 || !pass.revocation->revoked.empty())) {
        std::printf("%s\n", pass.revocation->describe().c_str());
    }
    if (!pass.revocation_error.empty()) {
        std::fprintf(stderr, "memguardd: cutting connections not allowed failed: %s\n",
                     pass.revocation_error.c_str());
    }
    if (!pass.retired.empty()) {
        std::printf("took out the other backend's rules: %s\n", pass.retired.c_str());
    }
    return pass.report.failed() ? 1 : 0;
}

int diff(const Options& o) {
    try {
        const Policy policy = load_config(o.config);
        const Report report = Guard(policy.backend).compare(policy);
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

// What a family's removal leaves: the ports our rules guarded are open to every source now.
void print_opened(const Removal& removal, const FamilyReport& f) {
    if (!f.error.empty() || f.actions.empty() || removal.ports.empty()) {
        return;
    }
    std::printf("%s %s: port(s) %s now OPEN to every source: nothing of memguardd's guards them\n",
                removal.backend.c_str(), std::string(to_string(f.family)).c_str(),
                join_ports(removal.ports).c_str());
}

// Who puts the rules back: a running daemon does at its next pass (only with --force can we be
// here while one runs), otherwise nothing until it starts.
void print_who_restores(bool removed_any) {
    if (!removed_any) {
        return;
    }
    if (const auto pid = running_daemon()) {
        std::printf("the running memguardd (pid %d) puts its rules back at its next verify "
                    "pass; stop it first (systemctl stop memguardd) to keep them out\n",
                    static_cast<int>(*pid));
    } else {
        std::printf("they stay open until memguardd runs again (systemctl start memguardd)\n");
    }
}

// Each family on its own: one that fails does not keep the other's rules in.
int remove(const Options& o) {
    if (daemon_in_the_way(o, "remove")) {
        return 1;
    }
    bool complete = true;
    bool removed_any = false;
    for (const auto& removal : remove_everywhere()) {
        for (const auto& f : removal.report.families) {
            print_family_notes(f);
            // A failure may come after the commit (our set, say): what is left is for status.
            std::printf("%s %s: %s\n", removal.backend.c_str(),
                        std::string(to_string(f.family)).c_str(),
                        !f.error.empty()    ? "FAILED; memguardd status shows what is left"
                        : f.actions.empty() ? "nothing of memguardd's was there"
                                            : f.actions.c_str());
            print_opened(removal, f);
            removed_any = removed_any || (f.error.empty() && !f.actions.empty());
            complete = complete && f.error.empty() && f.refused.empty();
        }
    }
    print_who_restores(removed_any);
    return complete ? 0 : 1;
}

// Each command's status for "could not even look": diff's and verify's error, status's
// "unknown" (as the LSB init scripts' status action), everybody else's failure.
int not_root_status(Command command) {
    switch (command) {
    case Command::diff:
    case Command::verify:
    case Command::explain:
        return 2;
    case Command::status:
        return 4;
    default:
        return 1;
    }
}

} // namespace

int run_command(const Options& o) {
    if (o.help) {
        std::fputs(usage(o.command).c_str(), stdout);
        return 0;
    }
    if (needs_root(o.command) && ::geteuid() != 0) {
        std::fprintf(stderr,
                     "memguardd: %s needs the kernel's netfilter tables, which only root can read "
                     "or change (you must be root)\n",
                     std::string(command_name(o.command)).c_str());
        return not_root_status(o.command);
    }
    switch (o.command) {
    case Command::help:
        std::fputs(usage().c_str(), stdout);
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
        return remove(o);
    case Command::status:
        return print_status(o.config,
                            {.json = o.json, .verbose = o.verbose, .config_given = o.config_given});
    case Command::doctor:
        return run_doctor(o.config);
    case Command::verify:
        return run_verify(o);
    case Command::clients:
        return print_clients(o.config, o.json, daemon_temporary(o.config));
    case Command::explain:
        return run_explain(o);
    case Command::allow:
    case Command::revoke:
        return ask_temporary(o);
    case Command::run:
        return run_service(o.config);
    }
    return 2;
}

} // namespace memguard
