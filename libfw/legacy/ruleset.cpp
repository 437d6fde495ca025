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

// When MEMGUARD is somebody else's, per protocol and port:
//   -A INPUT -i lo -p tcp -m tcp --dport 11211 -m comment --comment memguard -j ACCEPT
//   -A INPUT -p tcp -m tcp --dport 11211 -m comment --comment memguard -j DROP
Ruleset inline_closed(const FamilyDesired& want) {
    const Family family = want.family;
    Ruleset out;
    out.family = family;
    out.use_chain = false;
    for (const auto proto : want.protocols) {
        for (const auto port : want.ports) {
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
        }
    }
    return out;
}

} // namespace

// hash:net cannot hold a /0, and a list with one needs no set: it lets everybody in.
bool wants_set(const FamilyDesired& want) {
    const bool any_source =
        std::ranges::any_of(want.allow, [](const Network& n) { return n.prefix == 0; });
    return !any_source && want.allow.size() > set_threshold;
}

namespace {

// The allowlist's accept rules: one per network, or one matching on our set.
void add_allowed(const FamilyDesired& want, const Claims& claims, Ruleset& out) {
    std::vector<Network> allowed = want.allow;
    if (wants_set(want) && claims.set) {
        // -A MEMGUARD -m set --match-set memguard4 src -m comment --comment memguard -j ACCEPT
        std::ranges::sort(allowed);
        allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
        Rule in_set = our_rule(out.family, Verdict::accept);
        in_set.src_set = set_name(out.family);
        out.chain.push_back(in_set);
        out.set = std::move(allowed);
        return;
    }
    // -A MEMGUARD -s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT
    for (const auto& net : allowed) {
        Rule accepted = our_rule(out.family, Verdict::accept);
        if (net.prefix > 0) { // 0.0.0.0/0 and ::/0 mean any source: the kernel stores no -s
            accepted.src = net;
        }
        out.chain.push_back(accepted);
    }
}

// What ends the chain: the audit's NFLOG rule if asked for, then drop or reject.
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
    if (want.action == Action::drop) {
        // -A MEMGUARD -m comment --comment memguard -j DROP
        out.chain.push_back(rule(Verdict::drop));
        return;
    }
    // -A MEMGUARD -p tcp -m comment --comment memguard -j REJECT --reject-with tcp-reset
    const auto& protos = want.protocols;
    if (std::find(protos.begin(), protos.end(), Protocol::tcp) != protos.end()) {
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
    add_allowed(want, claims, out);
    add_closing(want, out);
}

Ruleset filter_ruleset(const FamilyDesired& want, const Claims& claims) {
    if (!claims.chain) {
        return inline_closed(want);
    }
    Ruleset out;
    out.family = want.family;
    // -A INPUT -p tcp -m tcp --dport 11211 -m comment --comment memguard -j MEMGUARD
    for (const auto proto : want.protocols) {
        for (const auto port : want.ports) {
            Rule jump = our_rule(want.family, Verdict::jump_memguard);
            jump.proto = proto;
            jump.dport = port;
            out.jumps.push_back(jump);
        }
    }
    add_chain(want, claims, out);
    return out;
}

// -t mangle -A PREROUTING -p udp -m udp --dport 11211 -m addrtype --dst-type LOCAL
//   -m rpfilter --invert -m comment --comment memguard -j DROP
void add_reverse_path(const FamilyDesired& want, MangleRuleset& out) {
    for (const auto proto : want.reverse_path) {
        for (const auto port : want.ports) {
            Rule strict = our_rule(want.family, Verdict::drop);
            strict.proto = proto;
            strict.dport = port;
            strict.dst_local = true;
            strict.rpfilter_failed = true;
            out.prerouting.push_back(strict);
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
    for (const auto proto : want.protocols) {
        for (const auto port : want.ports) {
            Rule jump =
                our_rule(want.family, mangle.use_chain ? Verdict::jump_memguard : Verdict::drop);
            jump.proto = proto;
            jump.dnat_port = port;
            mangle.jumps.push_back(jump);
        }
    }
    if (!mangle.use_chain) {
        return;
    }
    FamilyDesired dropping = want;
    dropping.action = Action::drop; // REJECT is only valid in filter
    Ruleset chain;
    chain.family = want.family;
    add_chain(dropping, claims, chain);
    mangle.chain = std::move(chain.chain);
    if (!out.set) {
        out.set = std::move(chain.set);
    }
}

} // namespace

Ruleset build_ruleset(const FamilyDesired& want, const Claims& claims) {
    Ruleset out = filter_ruleset(want, claims);
    add_mangle(want, claims, out);
    return out;
}

} // namespace memguard
