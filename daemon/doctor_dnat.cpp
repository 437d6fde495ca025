// doctor: a DNAT or REDIRECT of a guarded port, or to one. Docker's `-p` DNATs in nat
// PREROUTING and routes the packet through FORWARD: INPUT, where memguardd's first rules are,
// never sees it (Docker's docs, "Docker and ufw").
#include "doctor.hpp"

#include <algorithm>

namespace memguard::doctor {

namespace {

using netlink::NatForward;

std::vector<Protocol> protocols_of(const NatForward& f) {
    if (f.protocol) {
        return {*f.protocol};
    }
    return {Protocol::tcp, Protocol::udp}; // th dport
}

bool listed(const Policy& policy, std::uint16_t port) {
    return std::ranges::count(all_ports(policy), port) > 0;
}

bool guarded(const Policy& policy, Protocol p, std::uint16_t port) {
    return listed(policy, port) && std::ranges::count(all_protocols(policy), p) > 0;
}

// "DNAT: tcp port 11211 → 172.17.0.2:11211 (nft table ip nat, chain DOCKER)"
std::string describe(const NatForward& f, std::uint16_t port) {
    const std::string protocol = f.protocol ? std::string(to_string(*f.protocol)) : "tcp/udp";
    return f.to.kind + ": " + protocol + " port " + std::to_string(port) + " → " +
           f.destination(port) + " (" + f.where + ")";
}

// Whether packets `f` forwards stay on this host: a REDIRECT, or a DNAT to one of its own
// addresses (loopback too, with route_localnet). They go through INPUT, not FORWARD.
bool lands_here(const KernelRules& k, const NatForward& f) {
    if (f.to.kind == "REDIRECT") {
        return true;
    }
    if (!f.to.address) {
        return false;
    }
    const std::string a = f.to.address->to_string();
    return a.starts_with("127.") || a == "::1" ||
           std::ranges::find(k.local, *f.to.address) != k.local.end();
}

// Whether memguardd's rules see a packet to `port` that `f` forwards: rules before any DNAT see
// it by the port asked for; what lands here meets INPUT on the port it was sent to; a DNAT
// elsewhere goes through forward, where rules of ours find it by its original port.
bool guarded_on_path(const Policy& policy, const KernelRules& k, const NatForward& f, Protocol p,
                     std::uint16_t port) {
    const bool here = lands_here(k, f);
    if (here && guarded(policy, p, f.port_after(port))) {
        return true;
    }
    // A rule without a family is seen in both: each family needs a rule of ours.
    const auto families =
        f.family ? std::vector{*f.family} : std::vector{Family::ipv4, Family::ipv6};
    return std::ranges::all_of(families, [&](Family family) {
        const auto covers = [&](const PathGuard& g) { return g.covers(family, p, port); };
        return std::ranges::any_of(k.ours.before_nat, covers) ||
               (!here && std::ranges::any_of(k.ours.dnat_forward, covers));
    });
}

// `f` matches `port`, which the config guards.
void check_forwarded_port(Doctor& d, const Policy& policy, const KernelRules& k,
                          const NatForward& f, std::uint16_t port, const std::string& config_path) {
    const std::string what = describe(f, port);
    bool all = true;
    bool any = false;
    for (const auto p : protocols_of(f)) {
        if (guarded(policy, p, port)) {
            any = true;
            all = all && guarded_on_path(policy, k, f, p, port);
        }
    }
    if (!any) {
        return; // the config leaves that protocol open on purpose
    }
    if (all) {
        ok(what + ": guarded on the DNAT path by memguardd's rules");
    } else if (lands_here(k, f)) {
        d.finding(Severity::exposure,
                  what + ": NOT guarded: the packets reach INPUT on port " +
                      std::to_string(f.port_after(port)) + ", which memguardd does not guard",
                  "add " + std::to_string(f.port_after(port)) + " to \"ports\" in " + config_path +
                      ", or run a memguardd that guards the DNAT path");
    } else {
        d.finding(Severity::exposure,
                  what + ": NOT guarded: packets DNATed there skip INPUT, and memguardd's "
                         "rules for the DNAT path are not in the kernel",
                  "run a memguardd that guards the DNAT path (systemctl restart memguardd after "
                  "upgrading, or memguardd apply --once); until then publish the port on "
                  "127.0.0.1 only (docker run -p 127.0.0.1:" +
                      std::to_string(port) + ":...)");
    }
}

// `f` forwards ports the config does not list to `to_port`, which it does.
void check_forwarded_to(Doctor& d, const KernelRules& k, const NatForward& f, std::uint16_t to_port,
                        const std::string& config_path) {
    const std::string what = describe(f, f.dport.min);
    if (lands_here(k, f)) {
        ok(what + ": lands in INPUT on port " + std::to_string(to_port) + ", guarded there");
        return;
    }
    d.finding(Severity::exposure,
              what + ": NOT guarded: memcached's port " + std::to_string(to_port) +
                  " is reachable through port " + f.dport.to_string() +
                  ", which is not in \"ports\"",
              "add " + f.dport.to_string() + " to \"ports\" in " + config_path + ", " +
                  then_reload(config_path));
}

} // namespace

void check_dnat(Doctor& d, const Policy& policy, const KernelRules& kernel,
                const std::string& config_path) {
    for (const NatForward& f : kernel.forwards) {
        bool matched = false;
        for (const auto port : all_ports(policy)) {
            if (f.dport.contains(port)) {
                matched = true;
                check_forwarded_port(d, policy, kernel, f, port, config_path);
            }
        }
        if (!matched && f.to.port && listed(policy, f.to.port->min)) {
            check_forwarded_to(d, kernel, f, f.to.port->min, config_path);
        }
    }
}

} // namespace memguard::doctor
