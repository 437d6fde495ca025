// `memguardd doctor`'s parts: doctor.cpp runs them in order; each check prints its "ok:" lines
// and hands what is wrong to Doctor::finding, with what to do about it.
#pragma once

#include "netlink/nat_rules.hpp"
#include "netlink/sockdiag.hpp"
#include "policy.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace memguard::doctor {

class Doctor {
public:
    // What is wrong, and on the next line what to do about it (memguardd(8) promises both).
    void finding(const std::string& what, const std::string& fix);
    [[nodiscard]] int findings() const { return findings_; }

private:
    int findings_ = 0;
};

// Something that is right.
void ok(const std::string& text);
// Context an admin reads findings with: neither right nor wrong.
void note(const std::string& text);

// "tcp 0.0.0.0:11211", "udp [::]:11211"
std::string where(const netlink::ListeningSocket& s);
bool loopback(const std::string& address);

// What to do once the config is right.
std::string then_reload(const std::string& config_path);

// A rule of memguardd's outside INPUT that guards `ports` of `protocol` (nullopt: tcp and udp).
struct GuardRule {
    std::optional<Family> family; // nullopt: IPv4 and IPv6
    std::optional<Protocol> protocol;
    netlink::PortRange ports;
    [[nodiscard]] bool covers(Family f, Protocol p, std::uint16_t port) const {
        return (!family || family == f) && (!protocol || *protocol == p) && ports.contains(port);
    }
};

// What the kernel holds beyond the INPUT rules that compare() checks, read once for the checks.
struct KernelRules {
    // Every DNAT and REDIRECT of a tcp or udp port: legacy nat tables, then nftables.
    std::vector<netlink::NatForward> forwards;
    // iptables-legacy: mangle FORWARD jumps of ours on the conntrack original destination port
    // (they see what was DNATed elsewhere, not what was redirected to this host).
    std::vector<GuardRule> forward_path;
    // nftables: our prerouting chain, before any DNAT or REDIRECT.
    std::vector<GuardRule> prerouting;
    // This host's own addresses: a DNAT to one of them lands in INPUT.
    std::vector<Network> local;
    // Our strict reverse-path drops (`-m rpfilter --invert`, `fib saddr . iif oif missing`).
    std::vector<std::pair<Family, Protocol>> reverse_path;
    // Why a part could not be read ("ipv4: read the legacy nat table: Permission denied"); what
    // was read of the other parts is kept.
    std::vector<std::string> unreadable;
};

// Reads the legacy nat, mangle and raw tables (those the kernel has made) and every nftables
// rule. Never throws: what cannot be read is named in `unreadable`.
KernelRules read_kernel_rules();

// Finding 1: each DNAT/REDIRECT of a guarded port, or to one, guarded on its path or not.
void check_dnat(Doctor& d, const Policy& policy, const KernelRules& kernel,
                const std::string& config_path);
// Finding 2: memcached processes listening in this namespace on ports the config does not list.
void check_memcached_ports(Doctor& d, const Policy& policy, const std::string& config_path);
// Finding 3: the strict reverse-path check per protocol, in the config and in the kernel, and the
// kernel's own rp_filter. `configured`: the policy is the config's, not the fail-closed one.
void check_reverse_path(Doctor& d, const Policy& policy, const KernelRules& kernel, bool configured,
                        const std::string& config_path);

} // namespace memguard::doctor
