// explain's gathering: the config, the kernel through the backend in use, the running daemon's
// memory of blocked packets, the open connections. What cannot be read is said, never guessed.
#include "explain.hpp"

#include "config.hpp"
#include "contacts.hpp"
#include "control.hpp"
#include "guard.hpp"
#include "network_index.hpp"
#include "sweep.hpp"
#include "temporary_cli.hpp"

#include <cstdio>
#include <iostream>

namespace memguard {

namespace {

KernelFacts read_kernel(const Policy& policy, const Network& address) {
    KernelFacts k;
    try {
        Guard guard(policy.backend);
        k.backend = std::string(guard.backend_name());
        k.found = guard.backend().explain(address);
        k.guarded_ports = guard.backend().guarded_ports();
        k.coverage = guard.backend().coverage();
    } catch (const std::exception& e) {
        k.unreadable.emplace_back(e.what());
        k.found.reset();
    }
    return k;
}

RecentBlocked ask_recent(const Network& address) {
    try {
        const auto answer = ask_daemon(explain_request(address));
        return answer ? read_blocked_answer(*answer) : RecentBlocked{};
    } catch (const std::exception& e) {
        RecentBlocked r;
        r.known = RecentBlocked::Known::unanswered;
        r.why = e.what();
        return r;
    }
}

void read_contacts(ExplainFacts& facts) {
    try {
        std::vector<Contact> mine;
        for (const auto& c : current_contacts(all_ports(facts.policy), all_protocols(facts.policy),
                                              NetworkIndex(facts.local))) {
            if (unmapped(c.client) == facts.query.address) {
                mine.push_back(c);
            }
        }
        facts.contacts = std::move(mine);
    } catch (const std::exception& e) {
        facts.contacts_error = e.what();
    }
}

} // namespace

int run_explain(const Options& o) {
    ExplainFacts facts;
    facts.config_path = o.config;
    try {
        facts.query = parse_explain_query(o.address, o.service);
        facts.policy = with_daemon_temporary(load_config(o.config), o.config);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "memguardd: %s\n", e.what());
        return 2;
    } catch (const ConfigError& e) {
        for (const auto& p : e.problems()) {
            std::fprintf(stderr, "memguardd: %s\n", p.c_str());
        }
        std::fprintf(stderr, "memguardd: no valid config to judge by: a daemon started now runs "
                             "the last good policy, or without one fails closed (loopback "
                             "only)\n");
        return 2;
    }
    try {
        facts.local = local_sources();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "memguardd: this host's addresses: %s\n", e.what());
    }
    facts.kernel = read_kernel(facts.policy, facts.query.address);
    facts.recent = ask_recent(facts.query.address);
    read_contacts(facts);
    const auto groups = explain_groups(facts);
    if (groups.empty()) {
        std::fprintf(stderr, "memguardd: no guard of %s has port %s\n", o.config.c_str(),
                     o.service.c_str());
        return 2;
    }
    if (o.json) {
        std::cout << explain_json(facts, groups).dump(2) << '\n';
    } else {
        std::fputs(explain_text(facts, groups).c_str(), stdout);
    }
    const bool blocked = std::ranges::any_of(groups, [](const auto& g) { return !g.allowed(); });
    return blocked ? 1 : 0;
}

} // namespace memguard
