#include "clients.hpp"

#include "config.hpp"
#include "netlink/socket.hpp"
#include "revocation.hpp"
#include "state_store.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <iostream>

namespace memguard {

namespace {

using json = nlohmann::ordered_json;

using Row = std::array<std::string, 6>;
// Which columns hold numbers: those are aligned right.
constexpr std::array<bool, 6> kNumeric{false, false, true, true, true, false};

std::string counted(std::size_t n, const std::string& noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string joined(const std::vector<std::string>& parts, const char* separator) {
    std::string out;
    for (const auto& p : parts) {
        out += (out.empty() ? "" : separator) + p;
    }
    return out;
}

// "10.2.0.5/32 (batch host)"; with several guards, the guard in front: "pages 10.3.0.0/24".
Row row(const ClientGroup& g, bool several_guards) {
    return {(several_guards ? g.guard + " " : "") + g.network.to_string() +
                (g.label.empty() ? "" : " (" + g.label + ")"),
            g.verdict == ClientVerdict::blocked ? "BLOCKED" : std::string(to_string(g.verdict)),
            std::to_string(g.clients.size()),
            std::to_string(g.tcp),
            std::to_string(g.udp),
            first_few(g.clients, g.clients.size())};
}

std::string table(const std::vector<Row>& rows) {
    std::array<std::size_t, 6> width{};
    for (const auto& r : rows) {
        for (std::size_t i = 0; i < r.size(); ++i) {
            width[i] = std::max(width[i], r[i].size());
        }
    }
    std::string out;
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i) {
            const std::string pad(i + 1 < r.size() || kNumeric[i] ? width[i] - r[i].size() : 0,
                                  ' ');
            line += (i == 0 ? "" : "  ") + (kNumeric[i] ? pad + r[i] : r[i] + pad);
        }
        out += line + "\n";
    }
    return out;
}

// "3 networks, 12 clients; 1 network (2 clients) would be blocked by the config".
std::string summary(const std::vector<ClientGroup>& groups) {
    std::size_t clients = 0;
    std::size_t blocked_groups = 0;
    std::size_t blocked_clients = 0;
    for (const auto& g : groups) {
        clients += g.clients.size();
        if (g.verdict == ClientVerdict::blocked) {
            ++blocked_groups;
            blocked_clients += g.clients.size();
        }
    }
    const std::string blocked = blocked_groups == 0 ? "none"
                                                    : counted(blocked_groups, "network") + " (" +
                                                          counted(blocked_clients, "client") + ")";
    return counted(groups.size(), "network") + ", " + counted(clients, "client") + "; " + blocked +
           " would be blocked by the config\n";
}

// The config's policy and the temporary entries. When the file cannot be read or is invalid: says
// so, and judges as a daemon would then enforce, loopback only, on the default port and every
// port the file names.
Policy judging_policy(const std::string& config_path, const TemporaryList& temporary) {
    try {
        return temporary.applied_to(load_config(config_path),
                                    state_directory() + "/" + std::string(temporary_file_name));
    } catch (const ConfigError& e) {
        for (const auto& p : e.problems()) {
            std::fprintf(stderr, "memguardd: %s\n", p.c_str());
        }
        std::fprintf(stderr, "memguardd: judging the clients by an empty allowlist, as a daemon "
                             "failing closed would (loopback only)\n");
        Policy policy = fail_closed_policy(ports_named_in_file(config_path));
        std::ranges::sort(policy.guards.front().ports);
        return policy;
    }
}

} // namespace

std::string clients_text(const Policy& policy, const std::vector<ClientGroup>& groups) {
    if (groups.empty()) {
        std::vector<std::string> ports;
        std::vector<std::string> protocols;
        std::ranges::transform(all_ports(policy), std::back_inserter(ports),
                               [](std::uint16_t p) { return std::to_string(p); });
        std::ranges::transform(all_protocols(policy), std::back_inserter(protocols),
                               [](Protocol p) { return std::string(to_string(p)); });
        return "no client talks to " + std::string(ports.size() == 1 ? "port " : "ports ") +
               joined(ports, ", ") + " (" + joined(protocols, ", ") + ") right now\n";
    }
    std::vector<Row> rows{{"NETWORK", "VERDICT", "CLIENTS", "TCP", "UDP", "ADDRESSES"}};
    const bool several = policy.guards.size() > 1;
    std::ranges::transform(groups, std::back_inserter(rows),
                           [&](const ClientGroup& g) { return row(g, several); });
    return table(rows) + summary(groups);
}

json clients_json(const Policy& policy, const std::string& config_path,
                  const std::vector<ClientGroup>& groups) {
    json out{{"ports", all_ports(policy)}, {"config", config_path}, {"groups", json::array()}};
    for (const auto& g : groups) {
        json addresses = json::array();
        for (const auto& c : g.clients) {
            addresses.push_back(c.to_string());
        }
        out["groups"].push_back({{"guard", g.guard},
                                 {"network", g.network.to_string()},
                                 {"label", g.label.empty() ? json() : json(g.label)},
                                 {"verdict", to_string(g.verdict)},
                                 {"clients", g.clients.size()},
                                 {"tcp", g.tcp},
                                 {"udp", g.udp},
                                 {"addresses", std::move(addresses)}});
    }
    return out;
}

int print_clients(const std::string& config_path, bool as_json, const TemporaryList& temporary) {
    const Policy policy = judging_policy(config_path, temporary);
    std::vector<ClientGroup> groups;
    try {
        groups = list_clients(policy);
    } catch (const KernelError& e) {
        const bool denied = e.error() == EPERM || e.error() == EACCES;
        std::fprintf(stderr, "memguardd: %s%s\n", e.what(), denied ? " (you must be root)" : "");
        return 1;
    }
    if (as_json) {
        std::cout << clients_json(policy, config_path, groups).dump(2) << '\n';
    } else {
        std::fputs(clients_text(policy, groups).c_str(), stdout);
    }
    return 0;
}

} // namespace memguard
