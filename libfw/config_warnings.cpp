#include "config_warnings.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <utility>

namespace memguard {

namespace {

using Address = std::array<std::uint8_t, 16>;

std::string family_name(Family f) {
    return f == Family::ipv4 ? "IPv4" : "IPv6";
}

// "port 11211", "ports 11211, 11311"
std::string ports_text(const Policy& policy) {
    std::string out = policy.guards.front().ports.size() == 1 ? "port " : "ports ";
    for (std::size_t i = 0; i < policy.guards.front().ports.size(); ++i) {
        out += (i == 0 ? "" : ", ") + std::to_string(policy.guards.front().ports[i]);
    }
    return out;
}

// "port 11211 is not guarded", "ports 11211, 11311 are not guarded"
std::string not_guarded(const Policy& policy, Family family) {
    return ports_text(policy) + (policy.guards.front().ports.size() == 1 ? " is" : " are") +
           " not guarded for " + family_name(family);
}

const char* address_or_network(const Network& n) {
    return n.prefix == n.max_prefix() ? "address" : "network";
}

// 127.0.0.0/8 and what lies in it (RFC 1122 3.2.1.3), ::1 (RFC 4291 2.5.3).
bool is_loopback(const Network& n) {
    if (n.family == Family::ipv4) {
        return n.prefix >= 8 && n.addr[0] == 127;
    }
    constexpr Address ipv6_loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return n.prefix == 128 && n.addr == ipv6_loopback;
}

// The IPv4 network an IPv4-mapped IPv6 network (::ffff:0:0/96, RFC 4291 2.5.5.2) stands for.
std::optional<Network> mapped_ipv4(const Network& n) {
    const auto& a = n.addr;
    if (n.family != Family::ipv6 || n.prefix < 96 ||
        std::any_of(a.begin(), a.begin() + 10, [](std::uint8_t b) { return b != 0; }) ||
        a[10] != 0xff || a[11] != 0xff) {
        return std::nullopt;
    }
    Network v4;
    std::copy(a.begin() + 12, a.end(), v4.addr.begin());
    v4.prefix = n.prefix - 96;
    return v4;
}

std::optional<std::string> entry_warning(const Policy& policy, const Network& n) {
    if (n.prefix == 0) {
        return n.to_string() + " lets every " + family_name(n.family) +
               " host in: " + not_guarded(policy, n.family) +
               "; list the networks that need memcached";
    }
    if (const auto v4 = mapped_ipv4(n)) {
        return n.to_string() + " is an IPv4-mapped IPv6 " + address_or_network(n) +
               ": IPv4 packets go through iptables with their IPv4 source, never through "
               "ip6tables as ::ffff:a.b.c.d, so it matches nothing; write it as \"" +
               v4->to_string() + "\"";
    }
    if (is_loopback(n) && policy.allow_loopback) {
        return n.to_string() + " is a loopback " + address_or_network(n) +
               ": the \"-i lo\" rule (allow_loopback) already lets loopback traffic in, and no "
               "packet from another machine carries such a source; remove it";
    }
    return std::nullopt;
}

// The network's last address: every host bit set.
Address last_address(const Network& n) {
    Address last = n.addr;
    const auto mask = n.mask();
    for (std::size_t i = 0; i < n.size(); ++i) {
        last[i] = static_cast<std::uint8_t>(last[i] | ~mask[i]);
    }
    return last;
}

// Adds 1 over the first `size` bytes; false when that wraps past the last address.
bool increment(Address& a, std::size_t size) {
    for (std::size_t i = size; i-- > 0;) {
        if (++a[i] != 0) {
            return true;
        }
    }
    return false;
}

bool lets_another_machine_in(const Network& n) {
    return !is_loopback(n) && !mapped_ipv4(n);
}

// Networks that hold every address of `family` between them, none a /0 (which has its own).
std::optional<std::string> together_warning(const Policy& policy, Family family) {
    const auto zero = [family](const Network& n) { return n.family == family && n.prefix == 0; };
    if (!lets_everyone_in(policy.guards.front().allow, family) ||
        std::ranges::any_of(policy.guards.front().allow, zero)) {
        return std::nullopt;
    }
    const std::string name = family_name(family);
    return "allow: its " + name + " networks together hold every " + name +
           " address, so they let every " + name + " host in: " + not_guarded(policy, family) +
           "; list the networks that need memcached";
}

} // namespace

bool lets_everyone_in(const std::vector<Network>& allow, Family family) {
    std::vector<Network> nets;
    for (const auto& n : allow) {
        if (n.family == family) {
            nets.push_back(n.canonical());
        }
    }
    std::ranges::sort(nets); // by address: each network must start where the ones before end
    Address next{};          // the lowest address no network so far holds
    for (const auto& n : nets) {
        if (n.addr > next) {
            return false;
        }
        if (const auto last = last_address(n); last >= next) {
            next = last;
            if (!increment(next, n.size())) {
                return true;
            }
        }
    }
    return false;
}

bool is_shipped_default(const Policy& policy) {
    std::vector<Network> allow;
    for (const auto& n : policy.guards.front().allow) {
        allow.push_back(n.canonical());
    }
    std::ranges::sort(allow);
    std::vector<Network> shipped;
    for (const char* text : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}) {
        shipped.push_back(*parse_network(text));
    }
    std::ranges::sort(shipped);
    return allow == shipped;
}

std::string ConfigWarning::located(std::string_view main_file) const {
    const std::string_view where = file.empty() ? main_file : file;
    return where.empty() ? text : std::string(where) + ": " + text;
}

namespace {

// The warnings about the one guard of `policy`, whose allowlist is at `guard_path` + "allow"
// ("" or "guards[1].").
std::vector<ConfigWarning> guard_warnings(const Policy& policy, const std::string& guard_path) {
    std::vector<ConfigWarning> out;
    const GuardSpec& guard = policy.guards.front();
    for (std::size_t i = 0; i < guard.allow.size(); ++i) {
        if (const auto w = entry_warning(policy, guard.allow[i])) {
            const auto& places = guard.listed_at.by_network;
            const auto listed = places.find(guard.allow[i]);
            const ListedAt at = listed != places.end()
                                    ? listed->second
                                    : ListedAt{"", guard_path + "allow[" + std::to_string(i) + "]"};
            out.push_back({at.file, at.path + ": " + *w});
        }
    }
    const auto whole = [&](std::string text) { out.push_back({"", guard_path + std::move(text)}); };
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        if (auto w = together_warning(policy, family)) {
            whole(std::move(*w));
        }
    }
    if (is_shipped_default(policy)) {
        whole("allow: it is the shipped default, every private network (10.0.0.0/8, "
              "172.16.0.0/12, 192.168.0.0/16, fc00::/7): memcached is closed to the "
              "internet, not to the rest of your networks; narrow it to the networks "
              "that use memcached (memguardd clients lists who does now)");
    }
    if (std::ranges::none_of(guard.allow, lets_another_machine_in)) {
        whole(std::string("allow: ") +
              (guard.allow.empty() ? "it is empty"
                                   : "it holds only loopback and IPv4-mapped entries") +
              ", so no other machine can reach " + ports_text(policy) +
              "; if memcached has clients elsewhere, list their networks");
    }
    return out;
}

} // namespace

std::vector<ConfigWarning> config_warnings(const Policy& policy) {
    std::vector<ConfigWarning> out;
    for (const auto& file : policy.ignored_files) {
        out.push_back({file,
                       "ignored: only *.json files in the fragment directory are read; name it "
                       "*.json to have it read, or move it out"});
    }
    if (policy.guards.size() == 1) {
        const auto found = guard_warnings(policy, "");
        out.insert(out.end(), found.begin(), found.end());
        return out;
    }
    for (std::size_t i = 0; i < policy.guards.size(); ++i) {
        Policy one = policy;
        one.guards = {policy.guards[i]};
        auto found = guard_warnings(one, "guards[" + std::to_string(i) + "].");
        out.insert(out.end(), found.begin(), found.end());
    }
    return out;
}

} // namespace memguard
