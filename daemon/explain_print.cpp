// explain's words: a few lines per group for people, one JSON object for scripts. Pure.
#include "explain.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include <map>

namespace memguard {

namespace {

using json = nlohmann::ordered_json;

// Who puts the kernel back to the config: the running daemon, or the next one to start.
std::string who_repairs(const RecentBlocked& recent) {
    return recent.known == RecentBlocked::Known::no_daemon
               ? ": no daemon runs to repair this; starting it does (systemctl start memguardd)"
               : ": the daemon will repair this at its next pass, or memguardd verify";
}

std::string joined(const std::vector<std::string>& parts, std::string_view separator = ", ") {
    std::string out;
    for (const auto& p : parts) {
        out += (out.empty() ? "" : std::string(separator)) + p;
    }
    return out;
}

// "11211 tcp, udp" when every port has the same protocols, else "11211 tcp, 11212 udp".
std::string services_text(const std::vector<ServicePort>& services) {
    std::map<std::uint16_t, std::vector<std::string>> by_port;
    for (const auto& [protocol, port] : services) {
        by_port[port].emplace_back(to_string(protocol));
    }
    const bool alike = std::ranges::all_of(
        by_port, [&](const auto& e) { return e.second == by_port.begin()->second; });
    std::vector<std::string> parts;
    parts.reserve(by_port.size());
    for (const auto& [port, protocols] : by_port) {
        parts.push_back(std::to_string(port) + (alike ? "" : " " + joined(protocols)));
    }
    return joined(parts) + (alike ? " " + joined(by_port.begin()->second) : "");
}

std::string where_written(const ExplainFacts& facts, const ExplainGroup& g) {
    if (!g.listed_at) {
        return "";
    }
    const ListedAt& at = *g.listed_at;
    return " (" + (at.file.empty() ? facts.config_path : at.file) + ", " + at.path + ")";
}

std::string config_line(const ExplainFacts& facts, const ExplainGroup& g) {
    const std::string head = facts.query.address.to_string() + " → guard " + g.guard + " (" +
                             services_text(g.services) + "): ";
    switch (g.verdict) {
    case ClientVerdict::blocked:
        return head + "BLOCKED — not on the list of guard " + g.guard;
    case ClientVerdict::local:
        return head + "ALLOWED — " +
               (facts.query.address.is_loopback() ? "loopback" : "this host's own address") +
               ", allowed by allow_loopback";
    case ClientVerdict::allowed:
        break;
    }
    return head + "ALLOWED by " + g.entry->to_string() +
           (g.label.empty() ? "" : " \"" + g.label + "\"") + where_written(facts, g);
}

// "ipset memguard4 holds 10.1.0.0/16", "chain MEMGUARD accepts it: -A MEMGUARD -s ...".
std::string match_text(const KernelMatch& m) {
    const bool rule = m.loopback || m.element.starts_with("-A ");
    return m.where + (rule ? " accepts it: " : " holds ") + m.element +
           (m.label.empty() || rule ? "" : " \"" + m.label + "\"");
}

// What the kernel holds, and whether it says what the config says.
std::vector<std::string> kernel_lines(const ExplainFacts& facts, const ExplainGroup& g) {
    const auto accepts = g.kernel_accepts();
    if (!accepts) {
        return {"kernel: could not be read (" + joined(facts.kernel.unreadable, "; ") + ")"};
    }
    std::string line = "kernel: ";
    if (!*g.guarded) {
        line += "no rule of memguardd's guards these ports: open to every source";
    } else if (!g.kernel.empty()) {
        std::vector<std::string> found;
        std::ranges::transform(g.kernel, std::back_inserter(found), match_text);
        line += joined(found, "; ");
    } else if (facts.kernel.found->looked_in.empty()) {
        line += "nothing of memguardd's for " + std::string(to_string(facts.query.address.family));
    } else {
        line += "nothing in " + joined(facts.kernel.found->looked_in, " or ") + " holds it";
    }
    if (*accepts == g.allowed()) {
        return {line + " (in sync with the config)"};
    }
    return {line, std::string(g.allowed() ? "the config allows it but the kernel does not"
                                          : "the kernel lets it in but the config does not") +
                      who_repairs(facts.recent)};
}

bool has(const std::vector<std::pair<Family, Protocol>>& checks, Family f, Protocol p) {
    return std::ranges::find(checks, std::pair{f, p}) != checks.end();
}

struct ReversePath {
    Protocol protocol = Protocol::udp;
    bool config = false;
    std::optional<bool> kernel; // nullopt: the kernel could not be read
};

// The strict reverse-path check, per protocol of the group that has it in the config or the
// kernel: an allowed source must also route back out of the interface its packet came in on.
// Said only where the address is let in at all.
std::vector<ReversePath> reverse_paths(const ExplainFacts& facts, const ExplainGroup& g) {
    std::vector<ReversePath> out;
    if (!g.allowed() && !g.kernel_accepts().value_or(false)) {
        return out;
    }
    const GuardSpec& spec = *std::ranges::find(facts.policy.guards, g.guard, &GuardSpec::name);
    const auto& coverage = facts.kernel.coverage;
    for (const Protocol p : {Protocol::tcp, Protocol::udp}) {
        if (std::ranges::none_of(g.services, [&](const ServicePort& s) { return s.first == p; })) {
            continue;
        }
        ReversePath rp{p, std::ranges::count(spec.reverse_path, p) > 0, std::nullopt};
        if (coverage) {
            rp.kernel = has(coverage->reverse_path, facts.query.address.family, p);
        }
        if (rp.config || rp.kernel.value_or(false)) {
            out.push_back(rp);
        }
    }
    return out;
}

std::string reverse_path_line(const ReversePath& rp) {
    std::string line = std::string(to_string(rp.protocol)) +
                       ": also needs a reverse path back out of the interface it arrives on "
                       "(a forged source is dropped)";
    if (rp.config && rp.kernel == false) {
        line += "; the config asks for the check, but no rule of memguardd's for it is in the "
                "kernel";
    } else if (!rp.config) {
        line += "; the kernel checks it, the config does not ask for it";
    }
    return line;
}

std::string time_text(Clock::time_point t) {
    const std::time_t seconds = Clock::to_time_t(t);
    std::tm local{};
    ::localtime_r(&seconds, &local);
    char text[32];
    return std::string(text, std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local));
}

std::string service_text(const ServicePort& s) {
    return std::string(to_string(s.first)) + " " + std::to_string(s.second);
}

bool in_group(const ExplainGroup& g, const ServicePort& s) {
    return std::ranges::count(g.services, s) > 0;
}

// The packets the daemon saw blocked from the address to the group's services, and which.
std::pair<std::uint64_t, std::vector<ServicePort>> recent_in(const RecentBlocked& r,
                                                             const ExplainGroup& g) {
    std::uint64_t packets = 0;
    std::vector<ServicePort> services;
    for (const auto& [s, n] : r.services) {
        if (in_group(g, s)) {
            packets += n;
            services.push_back(s);
        }
    }
    return {packets, services};
}

std::string recent_line(const ExplainFacts& facts, const ExplainGroup& g) {
    const RecentBlocked& r = facts.recent;
    switch (r.known) {
    case RecentBlocked::Known::no_daemon:
        return "no daemon running: recent blocked attempts unknown";
    case RecentBlocked::Known::not_logged:
        return "blocked recently: not known (the daemon does not log blocked packets: "
               "log_blocked is off)";
    case RecentBlocked::Known::unanswered:
        return "blocked recently: not known (the daemon did not say: " + r.why + ")";
    case RecentBlocked::Known::yes:
        break;
    }
    const auto [packets, services] = recent_in(r, g);
    if (packets == 0) {
        return "blocked recently: none seen by the daemon";
    }
    std::vector<std::string> names;
    std::ranges::transform(services, std::back_inserter(names), service_text);
    return "blocked recently: " + std::to_string(packets) + " packet" + (packets == 1 ? "" : "s") +
           ", last " + time_text(*r.last) + " (" + joined(names) + ")";
}

std::map<ServicePort, std::size_t> connections_in(const std::vector<Contact>& contacts,
                                                  const ExplainGroup& g) {
    std::map<ServicePort, std::size_t> counts;
    for (const auto& c : contacts) {
        if (in_group(g, {c.protocol, c.port})) {
            ++counts[{c.protocol, c.port}];
        }
    }
    return counts;
}

std::string connections_line(const ExplainFacts& facts, const ExplainGroup& g) {
    if (!facts.contacts) {
        return "open connections: not known (" + facts.contacts_error + ")";
    }
    std::vector<std::string> parts;
    for (const auto& [s, n] : connections_in(*facts.contacts, g)) {
        parts.push_back(std::to_string(n) + " " + service_text(s) +
                        (s.first == Protocol::udp ? " flow" : " connection") + (n == 1 ? "" : "s"));
    }
    return "open connections: " + (parts.empty() ? "none" : joined(parts));
}

json services_json(const std::vector<ServicePort>& services) {
    json out = json::array();
    for (const auto& [protocol, port] : services) {
        out.push_back({{"protocol", to_string(protocol)}, {"port", port}});
    }
    return out;
}

json recent_json(const RecentBlocked& r, const ExplainGroup& g) {
    constexpr std::array<std::string_view, 4> known{"yes", "no_daemon", "not_logged", "unanswered"};
    json out{{"known", known.at(static_cast<std::size_t>(r.known))}};
    if (r.known != RecentBlocked::Known::yes) {
        return out;
    }
    const auto [packets, services] = recent_in(r, g);
    out["packets"] = packets;
    out["last"] = packets > 0 && r.last ? json(time_text(*r.last)) : json();
    out["services"] = services_json(services);
    return out;
}

json connections_json(const ExplainFacts& facts, const ExplainGroup& g) {
    if (!facts.contacts) {
        return {};
    }
    json out = json::array();
    for (const auto& [s, n] : connections_in(*facts.contacts, g)) {
        out.push_back({{"protocol", to_string(s.first)}, {"port", s.second}, {"count", n}});
    }
    return out;
}

json reverse_path_json(const ExplainFacts& facts, const ExplainGroup& g) {
    json out = json::array();
    for (const auto& rp : reverse_paths(facts, g)) {
        out.push_back({{"protocol", to_string(rp.protocol)},
                       {"config", rp.config},
                       {"kernel", rp.kernel ? json(*rp.kernel) : json()}});
    }
    return out;
}

} // namespace

std::string explain_text(const ExplainFacts& facts, const std::vector<ExplainGroup>& groups) {
    std::string out;
    for (const auto& g : groups) {
        out += config_line(facts, g) + "\n";
        std::vector<std::string> lines = kernel_lines(facts, g);
        for (const auto& a : g.ahead) {
            lines.push_back(std::string("another tool's rule ") +
                            (a.certain ? "decides" : "may decide") +
                            " whatever memguardd's say: " + a.where + ": " + a.text);
        }
        std::ranges::transform(reverse_paths(facts, g), std::back_inserter(lines),
                               reverse_path_line);
        lines.push_back(recent_line(facts, g));
        lines.push_back(connections_line(facts, g));
        for (const auto& line : lines) {
            out += "  " + line + "\n";
        }
    }
    return out;
}

json explain_json(const ExplainFacts& facts, const std::vector<ExplainGroup>& groups) {
    const bool blocked = std::ranges::any_of(groups, [](const auto& g) { return !g.allowed(); });
    json out{{"address", facts.query.address.to_string()},
             {"config", facts.config_path},
             {"backend", facts.kernel.backend},
             {"verdict", blocked ? "blocked" : "allowed"},
             {"groups", json::array()}};
    for (const auto& g : groups) {
        json matches = json::array();
        for (const auto& m : g.kernel) {
            matches.push_back({{"where", m.where}, {"element", m.element}, {"label", m.label}});
        }
        json ahead = json::array();
        for (const auto& a : g.ahead) {
            ahead.push_back({{"where", a.where}, {"rule", a.text}, {"certain", a.certain}});
        }
        const auto accepts = g.kernel_accepts();
        json entry;
        if (g.entry) {
            entry = {{"network", g.entry->to_string()},
                     {"label", g.label},
                     {"file", g.listed_at ? (g.listed_at->file.empty() ? facts.config_path
                                                                       : g.listed_at->file)
                                          : ""},
                     {"path", g.listed_at ? g.listed_at->path : ""}};
        }
        json kernel{{"read", accepts.has_value()},
                    {"guarded", g.guarded ? json(*g.guarded) : json()},
                    {"accepts", accepts ? json(*accepts) : json()},
                    {"in_sync", accepts ? json(*accepts == g.allowed()) : json()},
                    {"matches", std::move(matches)},
                    {"ahead", std::move(ahead)}};
        out["groups"].push_back({{"guard", g.guard},
                                 {"services", services_json(g.services)},
                                 {"verdict", to_string(g.verdict)},
                                 {"entry", std::move(entry)},
                                 {"kernel", std::move(kernel)},
                                 {"reverse_path", reverse_path_json(facts, g)},
                                 {"blocked_recently", recent_json(facts.recent, g)},
                                 {"connections", connections_json(facts, g)}});
    }
    return out;
}

} // namespace memguard
