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

} // namespace

Ruleset build_ruleset(const Policy& policy, Family family) {
    Ruleset set;
    set.family = family;
    auto rule = [&](Verdict verdict) {
        Rule r;
        r.family = family;
        r.comment = std::string(comment_tag);
        r.verdict = verdict;
        return r;
    };

    // -A INPUT -p tcp -m tcp --dport 11211 -m comment --comment memguard -j MEMGUARD
    for (const auto proto : policy.protocols) {
        for (const auto port : policy.ports) {
            Rule jump = rule(Verdict::jump_memguard);
            jump.proto = proto;
            jump.dport = port;
            set.jumps.push_back(jump);
        }
    }

    // -A MEMGUARD -i lo -m comment --comment memguard -j ACCEPT
    if (policy.allow_loopback) {
        Rule lo = rule(Verdict::accept);
        lo.in_iface = "lo";
        set.chain.push_back(lo);
    }
    // -A MEMGUARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment memguard -j
    // ACCEPT
    if (policy.accept_established) {
        Rule established = rule(Verdict::accept);
        established.related_established = true;
        set.chain.push_back(established);
    }
    // -A MEMGUARD -s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT
    for (const auto& net : policy.allow) {
        if (net.family == family) {
            Rule allowed = rule(Verdict::accept);
            if (net.prefix > 0) { // 0.0.0.0/0 and ::/0 mean any source: the kernel stores no -s
                allowed.src = net;
            }
            set.chain.push_back(allowed);
        }
    }
    // -A MEMGUARD -m limit --limit 10/sec --limit-burst 10 -m comment --comment memguard
    //   -j NFLOG --nflog-prefix memguard --nflog-group 11211
    if (policy.log_blocked) {
        Rule log = rule(Verdict::nflog);
        log.limit = RateLimit{kernel_rate(policy.log_rate_per_s), policy.log_rate_per_s};
        log.nflog_group = policy.log_group;
        set.chain.push_back(log);
    }
    if (policy.action == Action::drop) {
        // -A MEMGUARD -m comment --comment memguard -j DROP
        set.chain.push_back(rule(Verdict::drop));
    } else {
        // -A MEMGUARD -p tcp -m comment --comment memguard -j REJECT --reject-with tcp-reset
        const auto& protos = policy.protocols;
        if (std::find(protos.begin(), protos.end(), Protocol::tcp) != protos.end()) {
            Rule reset = rule(Verdict::reject);
            reset.proto = Protocol::tcp;
            reset.reject_with = RejectWith::tcp_reset;
            set.chain.push_back(reset);
        }
        // -A MEMGUARD -m comment --comment memguard -j REJECT --reject-with icmp-port-unreachable
        set.chain.push_back(rule(Verdict::reject));
    }
    return set;
}

} // namespace memguard
