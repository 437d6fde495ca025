// explain's judgement, pure: the query from the command line, and the groups of ports and
// protocols the address meets the same way, in the config and in the kernel.
#include "explain.hpp"

#include <algorithm>
#include <charconv>

namespace memguard {

namespace {

std::uint16_t port_number(const std::string& text) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
        throw std::invalid_argument("\"" + text + "\" is not a port (1 to 65535)");
    }
    return static_cast<std::uint16_t>(value);
}

// Whether an element or rule of ours the kernel holds lets packets of `s` in for guard `g`.
bool applies(const KernelMatch& m, const GuardSpec& g, const Policy& policy, const ServicePort& s) {
    const bool guard = m.guard.empty() ? policy.guards.size() == 1 || g.name == default_guard_name
                                       : m.guard == g.name;
    return guard && (!m.protocol || *m.protocol == s.first) && (!m.port || *m.port == s.second);
}

bool applies(const RuleAhead& a, const ServicePort& s) {
    return (!a.protocol || *a.protocol == s.first) && (!a.ports || a.ports->contains(s.second));
}

// One (protocol, port) of one guard.
ExplainGroup judge(const ExplainFacts& facts, const GuardSpec& g, const ServicePort& s) {
    ExplainGroup out;
    out.guard = g.name;
    out.services = {s};
    const Contact probe{facts.query.address, s.first, s.second};
    const auto grouped = group_clients(std::span(&probe, 1), facts.policy, facts.local);
    if (!grouped.empty()) {
        out.verdict = grouped.front().verdict;
        out.label = grouped.front().label;
        if (out.verdict == ClientVerdict::allowed) {
            out.entry = grouped.front().network;
            const auto& places = g.listed_at.by_network;
            if (const auto at = places.find(*out.entry); at != places.end()) {
                out.listed_at = at->second;
            }
        }
    }
    const KernelFacts& k = facts.kernel;
    if (k.found && k.guarded_ports) {
        out.guarded = std::ranges::count(*k.guarded_ports, s.second) > 0;
        std::ranges::copy_if(k.found->matches, std::back_inserter(out.kernel),
                             [&](const KernelMatch& m) { return applies(m, g, facts.policy, s); });
        std::ranges::copy_if(k.found->ahead, std::back_inserter(out.ahead),
                             [&](const RuleAhead& a) { return applies(a, s); });
    }
    return out;
}

// What makes two services of a guard one group: everything said about them but the services.
std::string sameness(const ExplainGroup& g) {
    std::string key = std::to_string(static_cast<int>(g.verdict)) + "|" +
                      (g.entry ? g.entry->to_string() : "") + "|" +
                      (g.guarded ? (*g.guarded ? "g" : "u") : "?") + "|";
    for (const auto& m : g.kernel) {
        key += m.where + ":" + m.element + "|";
    }
    for (const auto& a : g.ahead) {
        key += a.where + "|";
    }
    return key;
}

} // namespace

ExplainQuery parse_explain_query(const std::string& address, const std::string& service) {
    ExplainQuery q;
    const auto parsed = parse_network(address);
    if (!parsed || address.find('/') != std::string::npos) {
        throw std::invalid_argument("\"" + address +
                                    "\" is not an IPv4 or IPv6 address (one address, no /prefix)");
    }
    q.address = unmapped(*parsed);
    if (service.empty()) {
        return q;
    }
    const auto slash = service.find('/');
    q.port = port_number(service.substr(0, slash));
    if (slash != std::string::npos) {
        q.protocol = protocol_named(service.substr(slash + 1));
        if (!q.protocol) {
            throw std::invalid_argument("\"" + service.substr(slash + 1) +
                                        "\" is not a protocol (tcp or udp)");
        }
    }
    return q;
}

std::vector<ExplainGroup> explain_groups(const ExplainFacts& facts) {
    std::vector<ExplainGroup> out;
    for (const GuardSpec& g : facts.policy.guards) {
        const std::size_t first = out.size();
        for (const std::uint16_t port : g.ports) {
            for (const Protocol p : g.protocols) {
                if ((facts.query.port && *facts.query.port != port) ||
                    (facts.query.protocol && *facts.query.protocol != p)) {
                    continue;
                }
                ExplainGroup one = judge(facts, g, {p, port});
                const auto same = std::find_if(
                    out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                    [&](const ExplainGroup& e) { return sameness(e) == sameness(one); });
                if (same == out.end()) {
                    out.push_back(std::move(one));
                } else {
                    same->services.push_back(one.services.front());
                }
            }
        }
    }
    return out;
}

} // namespace memguard
