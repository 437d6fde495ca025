// The validated, typed policy: what the admin asked for. Plain data.
#pragma once

#include "net.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memguard {

inline constexpr std::string_view default_guard_name = "default";
inline constexpr std::string_view default_metrics_file =
    "/var/lib/prometheus/node-exporter/memguardd.prom";
enum class Action : std::uint8_t { drop, reject };
// Which kernel interface programs the rules (backend.hpp); automatic: legacy where it exists.
enum class BackendChoice : std::uint8_t { automatic, iptables_legacy, nftables };

std::string_view to_string(Action a);

// Where an allowlist entry was written: the file ("" for the main file) and the entry's JSON path
// in it ("allow[1]", "guards[0].allow[2]"). What a problem or a warning about the entry names.
struct ListedAt {
    std::string file;
    std::string path;
    friend bool operator==(const ListedAt&, const ListedAt&) = default;
};

// Where each network of a guard's allowlist was written, by its network; empty for a policy not
// read from a file. Not part of what the guard asks for: two of them always compare equal, so a
// network moved to a fragment leaves the policy as it was.
struct ListedPlaces {
    std::map<Network, ListedAt> by_network;
    friend bool operator==(const ListedPlaces& /*a*/, const ListedPlaces& /*b*/) { return true; }
};

// One guarded service: its ports and protocols, and who may reach them. The flat config format
// (ports, protocols, allow at the top level) is one guard named "default".
struct GuardSpec {
    std::string name{default_guard_name};
    std::vector<std::uint16_t> ports{11211};
    std::vector<Protocol> protocols{Protocol::tcp, Protocol::udp};
    std::vector<Network> allow; // in the config's order
    // Packets of these protocols to the guard's ports are dropped unless their source would be
    // routed back out of the interface they came in on (strict reverse-path check): a forged
    // allowed source cannot reach memcached's handshake-free UDP. Always a subset of protocols.
    std::vector<Protocol> reverse_path{Protocol::udp};
    // The comment an allowlist entry was given ({"net": ..., "comment": ...}), by its network.
    std::map<Network, std::string> labels;
    ListedPlaces listed_at; // where each network of `allow` was written

    friend bool operator==(const GuardSpec&, const GuardSpec&) = default;
};

struct Policy {
    // Never empty; no port is in two guards for the same protocol.
    std::vector<GuardSpec> guards{GuardSpec{}};
    bool allow_loopback = true;
    bool accept_established = true;
    Action action = Action::drop;
    BackendChoice backend = BackendChoice::automatic;
    std::chrono::seconds verify_interval{5};
    // Blocked packets go to NFLOG group `log_group` first, at most `log_rate_per_s` a second,
    // for the daemon's audit log.
    bool log_blocked = false;
    std::uint16_t log_group = 11211;
    std::uint32_t log_rate_per_s = 10;
    // Where the daemon writes its Prometheus metrics for node_exporter's textfile collector;
    // nullopt: it writes none.
    std::optional<std::string> metrics_file{std::string(default_metrics_file)};
    // Entries of the fragment directory that are not read (not *.json, not hidden), by path:
    // config_warnings names each, so that a fragment named .conf is not silently left out.
    std::vector<std::string> ignored_files;

    friend bool operator==(const Policy&, const Policy&) = default;
};

// What the guard enforces when it has no valid configuration: the default ports closed to
// everybody but loopback. Closing is always safe; guessing an allowlist is not.
// `also`: more ports to close the same way (the defaults stay first, no port twice).
Policy fail_closed_policy(const std::vector<std::uint16_t>& also = {});

// Every guard's ports (protocols, allowed networks) together, in the guards' order, each once:
// what fails closed, what doctor and clients look at.
std::vector<std::uint16_t> all_ports(const Policy& policy);
std::vector<Protocol> all_protocols(const Policy& policy);
std::vector<Network> all_networks(const Policy& policy);

} // namespace memguard
