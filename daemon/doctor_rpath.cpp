// doctor: the strict reverse-path check. memcached's UDP has no handshake: a datagram
// with a forged allowed source passes the allowlist and memcached answers the forged host. A
// strict check drops what would not be routed back out of the interface it came in on.
#include "doctor.hpp"

#include <algorithm>
#include <fstream>

namespace memguard::doctor {

namespace {

// The kernel's own filter (ip-sysctl.rst): 0 off, 1 strict, 2 loose; per interface the higher
// of `all` and the interface's own value counts. IPv6 has no such sysctl.
void note_rp_filter() {
    std::ifstream file("/proc/sys/net/ipv4/conf/all/rp_filter");
    std::string value;
    if (!std::getline(file, value)) {
        return;
    }
    const std::string meaning = value == "0"   ? "off"
                                : value == "1" ? "strict"
                                : value == "2" ? "loose: any source routable by some interface "
                                                 "passes"
                                               : "unknown";
    note("net.ipv4.conf.all.rp_filter = " + value + " (" + meaning +
         "), the kernel's own IPv4 reverse-path filter; IPv6 has none");
}

// "ipv4 and ipv6", "ipv4", "": the families `checks` names for `p` (where our rules check `p`'s
// sources).
std::string families_of(const std::vector<std::pair<Family, Protocol>>& checks, Protocol p) {
    const auto has = [&](Family f) {
        return std::ranges::find(checks, std::pair{f, p}) != checks.end();
    };
    const bool v4 = has(Family::ipv4);
    const bool v6 = has(Family::ipv6);
    return v4 && v6 ? "ipv4 and ipv6" : v4 ? "ipv4" : v6 ? "ipv6" : "";
}

// One guard's protocols; with several guards, the guard is named.
void check_guard_reverse_path(Doctor& d, const GuardSpec& g, bool name_it,
                              const KernelRules& kernel, bool configured,
                              const std::string& config_path) {
    for (const auto p : g.protocols) {
        const std::string what = "reverse-path check for " + std::string(to_string(p)) +
                                 (name_it ? " (guard " + g.name + ")" : "") + ": ";
        const std::string rules = families_of(kernel.ours.reverse_path, p);
        const std::string local_only = families_of(kernel.ours.reverse_path_local_only, p);
        if (std::ranges::find(g.reverse_path, p) != g.reverse_path.end()) {
            if (!local_only.empty()) {
                std::string text = what + "on, but memguardd's rules for it in the kernel (";
                text.append(local_only)
                    .append(") check only packets to this host's own addresses: forged packets "
                            "to a broadcast address or a multicast group reach memcached (rules "
                            "of an older memguardd)");
                d.finding(Severity::warning, text,
                          "restart memguardd: this version's rules check those too");
            } else if (rules.empty()) {
                note(what + "on in the config, but no rule of memguardd's for it is in the "
                            "kernel (a memguardd without the check programmed the rules)");
            } else {
                std::string text = what + "on, memguardd's rules for it are in the kernel (";
                ok(text.append(rules).append(")"));
            }
        } else if (p == Protocol::udp && configured) {
            d.finding(Severity::note,
                      what + "off: forged sources can reach memcached's handshake-free UDP",
                      "set reverse_path_check to [\"udp\"] in " + config_path +
                          " unless this host routes asymmetrically, " + then_reload(config_path));
        } else {
            note(what + "off" +
                 (p == Protocol::tcp ? " (a forged source cannot finish tcp's "
                                       "handshake)"
                                     : ""));
        }
    }
}

} // namespace

void check_reverse_path(Doctor& d, const Policy& policy, const KernelRules& kernel, bool configured,
                        const std::string& config_path) {
    note_rp_filter();
    for (const auto& g : policy.guards) {
        check_guard_reverse_path(d, g, policy.guards.size() > 1, kernel, configured, config_path);
    }
}

} // namespace memguard::doctor
