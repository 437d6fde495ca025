#include "ruleset.hpp"

#include <algorithm>

namespace memguard {

namespace {

// The limit match stores the mean interval, avg = 10000 / rate (XT_LIMIT_SCALE, integer
// division in libxt_limit.c), and reads back the rate 10000 / avg. Asking for the rate the
// kernel will report keeps every verify pass from seeing a difference.
std::uint32_t kernel_rate(std::uint32_t per_second) {
    constexpr std::uint32_t scale = 10000;
    return scale / (scale / per_second);
}

Rule our_rule(Family family, Verdict verdict) {
    Rule r;
    r.family = family;
    r.comment = std::string(comment_tag);
    r.verdict = verdict;
    return r;
}

// Calls visit(protocol, port) for every guard's (protocol, port): guard by guard, protocol-major
// within a guard (for one guard: protocol-major in the policy's order, as before guards).
template <class Visit> void each_guarded(const FamilyDesired& want, const Visit& visit) {
    for (const auto& guard : want.guards) {
        for (const auto proto : guard.protocols) {
            for (const auto port : guard.ports) {
                visit(proto, port);
            }
        }
    }
}

bool guards_protocol(const FamilyDesired& want, Protocol proto) {
    return std::ranges::any_of(want.guards, [&](const GuardSpec& g) {
        return std::ranges::find(g.protocols, proto) != g.protocols.end();
    });
}

// When MEMGUARD is somebody else's, per protocol and port:
//   -A INPUT -i lo -p tcp -m tcp --dport 11211 -m comment --comment memguard -j ACCEPT
//   -A INPUT -p tcp -m tcp --dport 11211 -m comment --comment memguard -j DROP
Ruleset inline_closed(const FamilyDesired& want) {
    const Family family = want.family;
    Ruleset out;
    out.family = family;
    out.use_chain = false;
    each_guarded(want, [&](Protocol proto, std::uint16_t port) {
        Rule lo = our_rule(family, Verdict::accept);
        lo.in_iface = "lo";
        lo.proto = proto;
        lo.dport = port;
        if (want.allow_loopback) {
            out.jumps.push_back(lo);
        }
        lo.in_iface.clear();
        lo.verdict = Verdict::drop;
        out.jumps.push_back(lo);
    });
    return out;
}

} // namespace

// hash:net cannot hold a /0, and a list with one needs no set: it lets everybody in.
bool wants_set(const GuardSpec& guard) {
    const bool any_source =
        std::ranges::any_of(guard.allow, [](const Network& n) { return n.prefix == 0; });
    return !any_source && guard.allow.size() > set_threshold;
}

std::vector<std::string> wanted_sets(const FamilyDesired& want) {
    std::vector<std::string> names;
    for (const auto& guard : want.guards) {
        if (wants_set(guard)) {
            names.push_back(set_name(want.family, guard.name));
        }
    }
    return names;
}

std::vector<std::uint16_t> all_ports(const FamilyDesired& want) {
    std::vector<std::uint16_t> ports;
    for (const auto& guard : want.guards) {
        for (const auto port : guard.ports) {
            if (std::ranges::find(ports, port) == ports.end()) {
                ports.push_back(port);
            }
        }
    }
    return ports;
}

namespace {

// The accept rules for `base` (a source or our set) in a chain several guards share: one per
// (protocol, port) of the guard; with one guard, `base` alone.
void add_for_guard(const FamilyDesired& want, const GuardSpec& guard, const Rule& base,
                   std::vector<Rule>& out) {
    if (want.guards.size() == 1) {
        out.push_back(base);
        return;
    }
    // -A MEMGUARD -s 10.3.0.0/24 -p tcp -m tcp --dport 11212 -m comment --comment memguard
    //   -j ACCEPT
    for (const auto proto : guard.protocols) {
        for (const auto port : guard.ports) {
            Rule r = base;
            r.proto = proto;
            r.dport = port;
            out.push_back(r);
        }
    }
}

// One guard's accept rules: one per network (its label in the comment), or one matching on the
// guard's set.
void add_guard_allowed(const FamilyDesired& want, const GuardSpec& guard, const Claims& claims,
                       Ruleset& out) {
    const std::string set = set_name(out.family, guard.name);
    if (wants_set(guard) && claims.set_usable(set)) {
        // -A MEMGUARD -m set --match-set memguard4 src -m comment --comment memguard -j ACCEPT
        std::vector<Network> members = guard.allow;
        std::ranges::sort(members);
        members.erase(std::unique(members.begin(), members.end()), members.end());
        Rule in_set = our_rule(out.family, Verdict::accept);
        in_set.src_set = set;
        add_for_guard(want, guard, in_set, out.chain);
        out.sets.emplace(set, std::move(members));
        return;
    }
    // -A MEMGUARD -s 192.168.1.0/24 -m comment --comment "memguard: batch host" -j ACCEPT
    for (const auto& net : guard.allow) {
        Rule accepted = our_rule(out.family, Verdict::accept);
        if (net.prefix > 0) { // 0.0.0.0/0 and ::/0 mean any source: the kernel stores no -s
            accepted.src = net;
        }
        if (const auto label = guard.labels.find(net); label != guard.labels.end()) {
            accepted.comment = our_comment(label->second);
        }
        add_for_guard(want, guard, accepted, out.chain);
    }
}

// What ends the chain: the audit's NFLOG rule if asked for, then drop or reject, split by
// protocol so the kernel counts what each protocol had blocked (the catch-all then sees only
// udp, since only tcp and udp jump in, and stays so nothing is ever left open).
void add_closing(const FamilyDesired& want, Ruleset& out) {
    auto rule = [&](Verdict verdict) { return our_rule(out.family, verdict); };
    // -A MEMGUARD -m limit --limit 10/sec --limit-burst 10 -m comment --comment memguard
    //   -j NFLOG --nflog-prefix memguard --nflog-group 11211
    if (want.log_blocked) {
        Rule log = rule(Verdict::nflog);
        log.limit = RateLimit{kernel_rate(want.log_rate_per_s), want.log_rate_per_s};
        log.nflog_group = want.log_group;
        out.chain.push_back(log);
    }
    const bool tcp = guards_protocol(want, Protocol::tcp);
    if (want.action == Action::drop) {
        // -A MEMGUARD -p tcp -m comment --comment memguard -j DROP
        if (tcp && guards_protocol(want, Protocol::udp)) {
            Rule tcp_drop = rule(Verdict::drop);
            tcp_drop.proto = Protocol::tcp;
            out.chain.push_back(tcp_drop);
        }
        // -A MEMGUARD -m comment --comment memguard -j DROP
        out.chain.push_back(rule(Verdict::drop));
        return;
    }
    // -A MEMGUARD -p tcp -m comment --comment memguard -j REJECT --reject-with tcp-reset
    if (tcp) {
        Rule reset = rule(Verdict::reject);
        reset.proto = Protocol::tcp;
        reset.reject_with = RejectWith::tcp_reset;
        out.chain.push_back(reset);
    }
    // -A MEMGUARD -m comment --comment memguard -j REJECT --reject-with icmp-port-unreachable
    out.chain.push_back(rule(Verdict::reject));
}

// The chain's rules, for filter's MEMGUARD or (with action drop) mangle's.
void add_chain(const FamilyDesired& want, const Claims& claims, Ruleset& out) {
    const Family family = want.family;
    auto rule = [&](Verdict verdict) { return our_rule(family, verdict); };
    // -A MEMGUARD -i lo -m comment --comment memguard -j ACCEPT
    if (want.allow_loopback) {
        Rule lo = rule(Verdict::accept);
        lo.in_iface = "lo";
        out.chain.push_back(lo);
    }
    // -A MEMGUARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment memguard -j
    // ACCEPT
    if (want.accept_established) {
        Rule established = rule(Verdict::accept);
        established.related_established = true;
        out.chain.push_back(established);
    }
    for (const auto& guard : want.guards) {
        add_guard_allowed(want, guard, claims, out);
    }
    add_closing(want, out);
}

Ruleset filter_ruleset(const FamilyDesired& want, const Claims& claims) {
    if (!claims.chain) {
        return inline_closed(want);
    }
    Ruleset out;
    out.family = want.family;
    // -A INPUT -p tcp -m tcp --dport 11211 -m comment --comment memguard -j MEMGUARD
    each_guarded(want, [&](Protocol proto, std::uint16_t port) {
        Rule jump = our_rule(want.family, Verdict::jump_memguard);
        jump.proto = proto;
        jump.dport = port;
        out.jumps.push_back(jump);
    });
    add_chain(want, claims, out);
    return out;
}

// The destinations the reverse-path check covers: every address this host takes packets for
// itself (memcached bound to all addresses receives broadcasts and multicasts too), never one
// routed on to another host. IPv4's addrtype tests the one kind of the address, so one rule
// names all four. IPv6's has no BROADCAST (the kernel refuses it), and with MULTICAST among
// several kinds it matches only multicast addresses that are also of another (xt_addrtype.c,
// match_type6): multicast gets a rule of its own.
std::vector<std::uint16_t> reverse_path_destinations(Family family) {
    if (family == Family::ipv4) {
        return {addr_type::all};
    }
    return {addr_type::local | addr_type::anycast, addr_type::multicast};
}

// -t mangle -A PREROUTING -p udp -m udp --dport 11211
//   -m addrtype --dst-type LOCAL,BROADCAST,ANYCAST,MULTICAST -m rpfilter --invert
//   -m comment --comment memguard -j DROP
// for each guard's reverse-path protocols and its own ports (IPv6: --dst-type LOCAL,ANYCAST,
// then the same with --dst-type MULTICAST).
void add_reverse_path(const FamilyDesired& want, MangleRuleset& out) {
    for (const auto& guard : want.guards) {
        for (const auto proto : guard.reverse_path) {
            for (const auto port : guard.ports) {
                for (const auto types : reverse_path_destinations(want.family)) {
                    Rule strict = our_rule(want.family, Verdict::drop);
                    strict.proto = proto;
                    strict.dport = port;
                    strict.dst_types = types;
                    strict.rpfilter_failed = true;
                    out.prerouting.push_back(strict);
                }
            }
        }
    }
}

void add_mangle(const FamilyDesired& want, const Claims& claims, Ruleset& out) {
    MangleRuleset& mangle = out.mangle;
    add_reverse_path(want, mangle);
    mangle.use_chain = claims.mangle_chain;
    // -t mangle -A FORWARD -p tcp -m conntrack --ctstate DNAT --ctorigdstport 11211
    //   --ctdir ORIGINAL -m comment --comment memguard -j MEMGUARD
    // or, when mangle MEMGUARD is somebody else's, the same with -j DROP.
    each_guarded(want, [&](Protocol proto, std::uint16_t port) {
        Rule jump =
            our_rule(want.family, mangle.use_chain ? Verdict::jump_memguard : Verdict::drop);
        jump.proto = proto;
        jump.dnat_port = port;
        mangle.jumps.push_back(jump);
    });
    if (!mangle.use_chain) {
        return;
    }
    FamilyDesired dropping = want;
    dropping.action = Action::drop; // REJECT is only valid in filter
    Ruleset chain;
    chain.family = want.family;
    add_chain(dropping, claims, chain);
    mangle.chain = std::move(chain.chain);
    out.sets.merge(chain.sets);
}

} // namespace

Ruleset build_ruleset(const FamilyDesired& want, const Claims& claims) {
    Ruleset out = filter_ruleset(want, claims);
    add_mangle(want, claims, out);
    return out;
}

} // namespace memguard
