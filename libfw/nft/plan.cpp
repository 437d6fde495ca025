#include "plan.hpp"

#include "render.hpp"
#include "rules.hpp"

#include <netinet/in.h> // before the linux/ headers, which then skip their own in.h

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>

namespace memguard::nft {

namespace {

bool guards_tcp_and_udp(const FamilyDesired& d) {
    bool tcp = false;
    bool udp = false;
    for (const GuardSpec& g : d.guards) {
        tcp = tcp || std::ranges::find(g.protocols, Protocol::tcp) != g.protocols.end();
        udp = udp || std::ranges::find(g.protocols, Protocol::udp) != g.protocols.end();
    }
    return tcp && udp;
}

// Every guard's (protocol, port), in the config's order, none twice.
std::vector<ServiceMatch> services(const FamilyDesired& d) {
    std::vector<ServiceMatch> out;
    for (const GuardSpec& g : d.guards) {
        for (const Protocol p : g.protocols) {
            for (const std::uint16_t port : g.ports) {
                if (std::ranges::none_of(out, [&](const ServiceMatch& s) {
                        return s.protocol == p && s.port == port;
                    })) {
                    out.push_back({p, port});
                }
            }
        }
    }
    return out;
}

// Every port of every guard of both families, sorted, none twice.
std::vector<std::uint16_t> guarded_ports(const Desired& desired) {
    std::vector<std::uint16_t> out;
    for (const FamilyDesired* d : {&desired.ipv4, &desired.ipv6}) {
        for (const ServiceMatch& s : services(*d)) {
            out.push_back(s.port);
        }
    }
    std::ranges::sort(out);
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

// One set per guard; the only guard's keeps the family's plain name (allow4, allow6).
std::vector<SetRef> add_sets(const FamilyDesired& d, TablePlan& plan) {
    std::vector<SetRef> refs;
    const bool single = d.guards.size() == 1;
    for (const GuardSpec& g : d.guards) {
        PlannedSet set;
        set.name = allow_set(d.family, single ? std::string_view() : std::string_view(g.name));
        set.family = d.family;
        set.id = static_cast<std::uint32_t>(plan.sets.size() + 1);
        set.ranges = merged_ranges(d.family, g.allow);
        set.labels = range_labels(set.ranges, g.labels);
        refs.push_back({set.name, set.id});
        plan.sets.push_back(std::move(set));
    }
    return refs;
}

// With several guards, a guard's reverse-path and accept rules match its own protocols and ports;
// with one, every packet that jumps in is the guard's, as before there were guards.
void guard_rules(std::string_view table, const FamilyDesired& d, const std::vector<SetRef>& sets,
                 std::vector<PlannedRule>& out) {
    const std::string chain = guard_chain(d.family);
    const bool single = d.guards.size() == 1;
    if (d.allow_loopback) {
        out.push_back({chain, loopback_rule(table, d.family)});
    }
    for (const GuardSpec& g : d.guards) {
        for (const Protocol p : g.reverse_path) {
            if (single) {
                out.push_back({chain, reverse_path_rule(table, d.family, p, std::nullopt)});
                continue;
            }
            if (std::ranges::find(g.protocols, p) == g.protocols.end()) {
                continue; // not a protocol of this guard: its ports may be another guard's
            }
            for (const std::uint16_t port : g.ports) {
                out.push_back({chain, reverse_path_rule(table, d.family, p, port)});
            }
        }
    }
    if (d.accept_established) {
        out.push_back({chain, established_rule(table, d.family)});
    }
    for (std::size_t i = 0; i < d.guards.size(); ++i) {
        if (single) {
            out.push_back({chain, allow_rule(table, d.family, sets[i], std::nullopt)});
            continue;
        }
        for (const Protocol p : d.guards[i].protocols) {
            for (const std::uint16_t port : d.guards[i].ports) {
                // The port of the packet (input, prerouting), and the one asked for before a
                // DNAT (forward): `-p 11212:11211` is the guard of 11212's, not of 11211's.
                out.push_back({chain, allow_rule(table, d.family, sets[i], ServiceMatch{p, port})});
                out.push_back(
                    {chain, allow_rule(table, d.family, sets[i], ServiceMatch{p, port, true})});
            }
        }
    }
    if (d.log_blocked) {
        out.push_back({chain, log_rule(table, d)});
    }
    closing_rules(table, d, guards_tcp_and_udp(d), out);
}

} // namespace

TablePlan plan_table(std::string_view table, const Desired& desired) {
    TablePlan plan;
    plan.table = table;
    plan.chains = {{std::string(kInputChain), NF_INET_LOCAL_IN, kInputPriority},
                   {std::string(kPreroutingChain), NF_INET_PRE_ROUTING, kPreroutingPriority},
                   {std::string(kForwardChain), NF_INET_FORWARD, kForwardPriority},
                   {"guard4", std::nullopt, 0},
                   {"guard6", std::nullopt, 0}};
    const auto ports = guarded_ports(desired);
    for (const std::string_view chain : {kInputChain, kPreroutingChain, kForwardChain}) {
        if (!ports.empty()) {
            pass_other_ports(table, chain, ports, plan.rules);
        }
        for (const FamilyDesired* d : {&desired.ipv4, &desired.ipv6}) {
            for (const ServiceMatch& s : services(*d)) {
                plan.rules.push_back(
                    {std::string(chain),
                     chain == kForwardChain
                         ? dnat_jump_rule(table, d->family, s.protocol, s.port)
                         : jump_rule(table, chain, d->family, s.protocol, s.port)});
            }
        }
    }
    for (const FamilyDesired* d : {&desired.ipv4, &desired.ipv6}) {
        const auto sets = add_sets(*d, plan);
        guard_rules(table, *d, sets, plan.rules);
    }
    return plan;
}

TableModel model_of(const TablePlan& plan) {
    TableModel m;
    m.name = plan.table;
    m.comment = kTableMarker;
    for (const PlannedChain& c : plan.chains) {
        ChainModel chain;
        chain.name = c.name;
        chain.comment = kComment;
        if (c.hook) {
            chain.type = "filter";
            chain.hook = c.hook;
            chain.priority = c.priority;
            chain.policy = NF_ACCEPT;
        }
        m.chains.push_back(std::move(chain));
    }
    for (const PlannedSet& s : plan.sets) {
        SetModel set;
        set.name = s.name;
        set.family = s.family;
        set.key_type = s.family == Family::ipv4 ? 7 : 8;
        set.key_len = static_cast<std::uint32_t>(address_size(s.family));
        set.flags = NFT_SET_INTERVAL;
        set.comment = kComment;
        set.ranges = s.ranges;
        set.labels = s.labels;
        m.sets.push_back(std::move(set));
    }
    for (const PlannedRule& r : plan.rules) {
        m.chain(r.chain)->rules.push_back(render_rule(r.rule.get()));
    }
    return m;
}

Desired fail_closed_desired(const Desired& desired, std::span<const std::uint16_t> guarded) {
    std::vector<std::uint16_t> ports{11211};
    for (const FamilyDesired* d : {&desired.ipv4, &desired.ipv6}) {
        for (const GuardSpec& g : d->guards) {
            ports.insert(ports.end(), g.ports.begin(), g.ports.end());
        }
    }
    ports.insert(ports.end(), guarded.begin(), guarded.end());
    std::sort(ports.begin(), ports.end());
    ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
    GuardSpec closed;
    closed.ports = ports;
    closed.protocols = {Protocol::tcp, Protocol::udp};
    closed.reverse_path.clear(); // nothing passes but loopback anyway
    Desired out;
    for (FamilyDesired* d : {&out.ipv4, &out.ipv6}) {
        d->family = d == &out.ipv4 ? Family::ipv4 : Family::ipv6;
        d->guards = {closed};
        d->allow_loopback = true;
        d->accept_established = false;
        d->action = Action::drop;
    }
    return out;
}

} // namespace memguard::nft
