// `memguardd doctor`: is the port really guarded? Each finding says how bad it is and what to do
// about it; the exit status follows the worst (Severity). The checks of the kernel's rules and of
// the other paths to the port (DNAT, memcached on other ports, reverse path) are in
// doctor_*.cpp.
#include "doctor.hpp"
#include "status.hpp"

#include "config.hpp"
#include "config_warnings.hpp"
#include "control.hpp"
#include "guard.hpp"
#include "last_good.hpp"
#include "netlink/nftables.hpp"
#include "netlink/sockdiag.hpp"
#include "netlink/socket.hpp"
#include "running_config.hpp"
#include "temporary_cli.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <sys/stat.h>

namespace memguard::doctor {

void Doctor::finding(Severity severity, const std::string& what, const std::string& fix) {
    const char* lead = severity == Severity::exposure  ? "EXPOSURE"
                       : severity == Severity::warning ? "WARNING"
                                                       : "note";
    std::printf("%s: %s\n  fix: %s\n", lead, what.c_str(), fix.c_str());
    ++(severity == Severity::exposure  ? exposures_
       : severity == Severity::warning ? warnings_
                                       : notes_);
}

std::string Doctor::summary() const {
    return std::to_string(exposures_) + " exposure(s), " + std::to_string(warnings_) +
           " warning(s), " + std::to_string(notes_) + " note(s)";
}

int Doctor::exit_status() const {
    return exposures_ > 0 ? 2 : warnings_ > 0 ? 1 : 0;
}

void ok(const std::string& text) {
    std::printf("ok: %s\n", text.c_str());
}

void note(const std::string& text) {
    std::printf("note: %s\n", text.c_str());
}

bool loopback(const std::string& address) {
    return address.rfind("127.", 0) == 0 || address == "::1";
}

std::string where(const netlink::ListeningSocket& s) {
    const bool v6 = s.family == Family::ipv6;
    return std::string(to_string(s.protocol)) + " " + (v6 ? "[" + s.address + "]" : s.address) +
           ":" + std::to_string(s.port);
}

// What to do once the config is right.
std::string then_reload(const std::string& config_path) {
    return "check it with memguardd check " + config_path + ", then run systemctl reload memguardd";
}

namespace {

// "IPv4", "IPv6" or "IPv4 and IPv6": the families whose packets reach `s` and whose allowlist
// lets every host in. An IPv6 socket bound to :: without IPV6_V6ONLY takes IPv4 too, and
// iptables, not ip6tables, filters those packets.
std::string open_to_every(const netlink::ListeningSocket& s, const Policy& policy) {
    const auto guard = std::ranges::find_if(policy.guards, [&](const GuardSpec& g) {
        return std::ranges::count(g.ports, s.port) > 0 &&
               std::ranges::count(g.protocols, s.protocol) > 0;
    });
    if (guard == policy.guards.end()) {
        return "";
    }
    const bool dual = s.family == Family::ipv6 && s.v6only_unknown_or_dual && s.address == "::";
    const bool v4 =
        (s.family == Family::ipv4 || dual) && lets_everyone_in(guard->allow, Family::ipv4);
    const bool v6 = s.family == Family::ipv6 && lets_everyone_in(guard->allow, Family::ipv6);
    return v4 && v6 ? "IPv4 and IPv6" : v4 ? "IPv4" : v6 ? "IPv6" : "";
}

// What listens on our ports, against what the rules cover. A port nothing listens on may be
// forwarded by DNAT (to a container): check_dnat says whether that path is guarded.
void check_listeners(Doctor& d, const Policy& policy,
                     const std::vector<netlink::NatForward>& forwards) {
    const auto sockets = netlink::listening_sockets(all_ports(policy));
    for (const auto port : all_ports(policy)) {
        const auto on_port = [&](const netlink::ListeningSocket& s) { return s.port == port; };
        const auto forwarded = std::ranges::find_if(
            forwards, [&](const netlink::NatForward& f) { return f.dport.contains(port); });
        if (std::ranges::any_of(sockets, on_port)) {
            continue;
        }
        if (forwarded != forwards.end()) {
            ok("nothing listens on port " + std::to_string(port) + " here: it is forwarded by " +
               forwarded->to.kind + " to " + forwarded->destination(port) + " (" +
               forwarded->where + ")");
        } else {
            d.finding(Severity::note,
                      "nothing listens on port " + std::to_string(port) +
                          " (tcp or udp): is memcached running, and on this port?",
                      "start memcached (systemctl start memcached), or list the port it listens "
                      "on (-p in /etc/memcached.conf) in \"ports\"");
        }
    }
    for (const auto& s : sockets) {
        const bool covered = std::ranges::count(all_protocols(policy), s.protocol) > 0;
        if (loopback(s.address)) {
            ok(where(s) + " listens on loopback only");
        } else if (!covered) {
            d.finding(Severity::exposure,
                      where(s) + " is open to everybody: the rules cover only " +
                          std::string(to_string(all_protocols(policy).front())),
                      "add \"" + std::string(to_string(s.protocol)) + "\" to \"protocols\"" +
                          (s.protocol == Protocol::udp ? ", or start memcached with -U 0" : ""));
        } else if (const auto open = open_to_every(s, policy); !open.empty()) {
            d.finding(Severity::exposure,
                      where(s) + " is open to every " + open +
                          " host: the allowlist lets them all in",
                      "list the networks that need memcached in \"allow\"");
        } else {
            ok(where(s) + " is behind the allowlist");
        }
        if (s.protocol == Protocol::udp && !loopback(s.address)) {
            d.finding(Severity::note,
                      where(s) + ": memcached answers UDP, which spoofed sources can turn into "
                                 "an amplification attack",
                      "unless clients need UDP, turn it off: -U 0 in /etc/memcached.conf, then "
                      "systemctl restart memcached");
        }
    }
}

// iptables-nft keeps its rules in nftables; `iptables -L` shows those, never ours. Which tables
// are ours the nftables backend says (`ours`); status shows them. Not a finding: an accept there
// does not open the port past memguardd's drop, and what would (a DNAT) check_dnat judges.
void check_nftables(const std::vector<std::string>& ours) {
    auto tables = netlink::nft_tables();
    std::erase_if(tables, [&](const netlink::NftTable& t) {
        return std::ranges::count(ours, t.family + " " + t.name) > 0;
    });
    if (tables.empty()) {
        ok("no nftables tables: `iptables -L` (iptables-nft) shows nothing to confuse");
        return;
    }
    std::string names;
    for (const auto& t : tables) {
        names += (names.empty() ? "" : ", ") + t.family + " " + t.name;
    }
    note("nftables holds " + std::to_string(tables.size()) + " other table(s) (" + names +
         "): their rules run too, and `iptables -L` (the nft variant on Debian 12) shows them, "
         "not memguardd's (read both: `nft list ruleset`, `iptables-legacy -L -n -v`); an "
         "accept there for the port does not open it past memguardd's drop");
}

// A config warning that is advice rather than something wrong: the shipped default allowlist
// closes memcached to the internet, as meant; narrowing it is better still.
bool advice(const ConfigWarning& w) {
    return w.text.find("the shipped default") != std::string::npos;
}

// The config as the daemon reads it, or nullopt when it is missing or invalid; either, or what
// it says that was probably not meant, is a finding.
std::optional<Policy> check_config(Doctor& d, const std::string& config_path) {
    struct stat st {};
    if (::stat(config_path.c_str(), &st) != 0 && errno == ENOENT) {
        d.finding(Severity::warning,
                  config_path + " does not exist: a daemon started now fails closed (loopback "
                                "only)",
                  "write it (memguard.json(5) says how), " + then_reload(config_path));
        return std::nullopt;
    }
    try {
        Policy policy = load_config(config_path);
        ok(config_path + " is valid");
        for (const auto& w : config_warnings(policy)) {
            d.finding(advice(w) ? Severity::note : Severity::warning, w.located(config_path),
                      "edit " + (w.file.empty() ? config_path : w.file) + " as the warning says, " +
                          then_reload(config_path));
        }
        return policy;
    } catch (const ConfigError& e) {
        std::string problems;
        for (const auto& p : e.problems()) {
            problems += "\n  " + p;
        }
        d.finding(Severity::warning,
                  "the config is invalid: a daemon started now runs the last good policy, or "
                  "without one fails closed (loopback only):" +
                      problems,
                  "correct what is named above, " + then_reload(config_path));
        return std::nullopt;
    }
}

// Whether the backend can read the kernel's rules at all.
bool check_backend(Doctor& d, Guard& guard) {
    try {
        (void)guard.read();
        ok("the " + std::string(guard.backend_name()) + " backend can read the kernel's rules");
        return true;
    } catch (const std::exception& e) {
        d.finding(Severity::warning, e.what(),
                  "run memguardd doctor as root, in the network namespace of the "
                  "memcached to guard; on a kernel without legacy x_tables, "
                  "\"backend\": \"nftables\" (or \"auto\")");
        return false;
    }
}

// Rules of ours left in the backend that does not run: they still filter, with an old list.
void check_leftovers(Doctor& d, Guard& guard) {
    const auto other = make_other_backend(guard.backend());
    if (!other) {
        return;
    }
    try {
        for (const auto& family : other->read()) {
            if (family.has_ours()) {
                d.finding(Severity::warning,
                          std::string(to_string(family.family)) +
                              ": rules of memguardd's are "
                              "left in " +
                              std::string(other->name()) +
                              ", which does not run; "
                              "they still drop what their old allowlist did not allow",
                          "memguardd takes them out after its next successful start or reload "
                          "(systemctl reload memguardd); or memguardd remove, then systemctl "
                          "restart memguardd");
                return;
            }
        }
        ok("nothing of memguardd's left in " + std::string(other->name()));
    } catch (const std::exception&) {
        // The other kernel interface cannot be read here: nothing of ours can be in it either.
    }
}

// The daemon runs the last good policy, or a config other than the one on disk.
void check_running_config(Doctor& d, const std::string& config_path) {
    nlohmann::json daemon;
    try {
        daemon = ask_daemon_status();
    } catch (const std::exception& e) {
        d.finding(Severity::warning, e.what(), "restart memguardd (systemctl restart memguardd)");
        return;
    }
    if (const auto line = last_good_line(daemon)) {
        d.finding(Severity::warning, "memguardd is " + *line,
                  "correct the config, " + then_reload(config_path));
    } else if (const auto versus = disk_versus_running(config_path, daemon);
               versus && !versus->same) {
        note(config_path + " " + versus->line);
    }
}

// Who answers for the daemon: only a root peer on the socket in the root-only runtime
// directory is believed; a holder of the abstract name earlier versions used is a finding.
void check_control(Doctor& d, const std::string& config_path) {
    if (const auto pid = running_daemon()) {
        ok("memguardd runs in this network namespace (pid " + std::to_string(*pid) +
           "), answering on " + instance_paths().socket);
        check_running_config(d, config_path);
    } else {
        d.finding(Severity::exposure,
                  "memguardd is not running in this network namespace: nothing keeps the rules "
                  "in place or repairs them",
                  "systemctl start memguardd");
    }
    if (const auto squatter = abstract_name_squatter()) {
        d.finding(Severity::warning, squatter->describe(),
                  "find out what it is (ps -p PID), stop it, and keep earlier memguardd "
                  "binaries from asking it");
    }
}

// The rules beyond INPUT that doctor_*.cpp judge; what cannot be read is a finding.
KernelRules read_rules(Doctor& d) {
    auto kernel = read_kernel_rules();
    for (const auto& why : kernel.unreadable) {
        d.finding(Severity::warning,
                  "cannot read the NAT rules or memguardd's rules outside INPUT: " + why,
                  "run memguardd doctor as root, in the network namespace of the memcached to "
                  "guard");
    }
    return kernel;
}

} // namespace

} // namespace memguard::doctor

namespace memguard {

int run_doctor(const std::string& config_path) {
    using namespace doctor;
    Doctor d;
    check_control(d, config_path);
    const auto config = check_config(d, config_path);
    // What the daemon enforces: the config and its temporary entries; without a valid config
    // the last good policy, or loopback only on the broken file's ports. Chosen before the
    // backend, which the last good policy may name.
    const auto last_good = config ? std::nullopt : load_last_good(config_path).policy;
    const bool from_last_good = last_good.has_value();
    Policy policy = config      ? with_daemon_temporary(*config, config_path)
                    : last_good ? with_daemon_temporary(*last_good, config_path)
                                : Policy{};
    Guard guard(policy.backend);
    std::printf("backend %s (%s): %s\n", std::string(guard.backend_name()).c_str(),
                guard.backend_why().c_str(), std::string(guard.backend().how_to_see()).c_str());
    check_leftovers(d, guard);
    if (check_backend(d, guard)) {
        if (!config && !last_good) {
            policy = guard.fail_closed_policy(ports_named_in_file(config_path));
        }
        check_kernel(d, guard, policy, config.has_value(), from_last_good);
    }
    const KernelRules kernel = read_rules(d);
    try {
        check_listeners(d, policy, kernel.forwards);
        check_memcached_ports(d, policy, config_path);
        check_nftables(kernel.ours.tables);
    } catch (const KernelError& e) {
        d.finding(Severity::warning, std::string("cannot inspect sockets or nftables: ") + e.what(),
                  "run memguardd doctor as root; the kernel needs sock_diag (inet_diag, "
                  "tcp_diag, udp_diag) and nf_tables netlink");
    }
    check_dnat(d, policy, kernel, config_path);
    check_reverse_path(d, policy, kernel, config.has_value() || from_last_good, config_path);
    std::printf("%s\n", d.summary().c_str());
    return d.exit_status();
}

} // namespace memguard
