// `memguardd doctor`'s parts: doctor.cpp runs them in order; each check prints its "ok:" lines
// and hands what is wrong to Doctor::finding, with its class and what to do about it.
#pragma once

#include "coverage.hpp"
#include "guard.hpp"
#include "netlink/nat_rules.hpp"
#include "netlink/sockdiag.hpp"
#include "policy.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace memguard::doctor {

// How bad a finding is; the exit status follows the worst (the monitoring-plugin convention).
enum class Severity {
    // A host not on the allowlist can reach a guarded port (a path the rules do not cover, a
    // foreign rule ahead of ours, a guarded port open), or nothing guards it (no daemon, none
    // of our rules in the kernel): exit 2.
    exposure,
    // Something is not as it should be, without opening a port now: exit 1.
    warning,
    // Advice (the shipped default allowlist, a memcached port not in the config, UDP): exit 0.
    note,
};

class Doctor {
public:
    // What is wrong, led by its class, and on the next line what to do about it (memguardd(8)
    // promises both).
    void finding(Severity severity, const std::string& what, const std::string& fix);
    // "1 exposure(s), 0 warning(s), 2 note(s)"
    [[nodiscard]] std::string summary() const;
    // 2 an exposure, 1 a warning, 0 notes only or nothing.
    [[nodiscard]] int exit_status() const;

private:
    int exposures_ = 0;
    int warnings_ = 0;
    int notes_ = 0;
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

// What the kernel holds beyond the INPUT rules that compare() checks, read once for the checks.
struct KernelRules {
    // Every DNAT and REDIRECT of a tcp or udp port: legacy nat tables, then nftables.
    std::vector<netlink::NatForward> forwards;
    // What our rules judge on the paths beyond INPUT, as the backends read them back.
    Coverage ours;
    // This host's own addresses: a DNAT to one of them lands in INPUT.
    std::vector<Network> local;
    // Why a part could not be read ("ipv4: read the legacy nat table: Permission denied"); what
    // was read of the other parts is kept.
    std::vector<std::string> unreadable;
};

// Reads the legacy nat tables (those the kernel has made), every nftables rule, and each
// backend's coverage. Never throws: what cannot be read is named in `unreadable`.
KernelRules read_kernel_rules();

// The kernel against what the daemon would program: the config's rules, or when it is missing
// or invalid the fail-closed ones (`configured` false). What lets others in is an exposure.
// `last_good`: the config is invalid and `policy` is the last good one (not the fail-closed one).
void check_kernel(Doctor& d, Guard& guard, const Policy& policy, bool configured, bool last_good);

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
