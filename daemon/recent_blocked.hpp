// What the daemon's audit saw of each blocked source, kept in memory for `memguardd explain`:
// how many packets, when the last one came, to which ports. Bounded: past max_sources sources
// the ones seen longest ago are forgotten, so a flood from many addresses costs fixed memory.
#pragma once

#include "netlink/nflog.hpp"
#include "policy.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace memguard {

using Clock = std::chrono::system_clock;

// (protocol, port) of a guard: one thing a client asks for.
using ServicePort = std::pair<Protocol, std::uint16_t>;

// One source's blocked packets as the running daemon tells them.
struct RecentBlocked {
    enum class Known : std::uint8_t {
        yes,
        no_daemon,  // no daemon runs in this network namespace
        not_logged, // it runs without log_blocked (or could not bind its NFLOG group)
        unanswered, // it runs but did not answer the question (an older one, or an error)
    };
    Known known = Known::no_daemon;
    std::string why; // unanswered: what went wrong
    std::uint64_t packets = 0;
    std::optional<Clock::time_point> last;
    std::map<ServicePort, std::uint64_t> services; // packets per protocol and port
};

class BlockedSources {
public:
    explicit BlockedSources(std::size_t max_sources = 4096) : max_sources_(max_sources) {}

    void add(const netlink::BlockedPacket& packet, Clock::time_point now);
    // The daemon's answer to `explain ADDRESS`: {"logging": true, "packets": N, "last": unix
    // seconds or null, "services": [{"protocol", "port", "packets"}]}.
    [[nodiscard]] nlohmann::json about(const Network& address) const;
    [[nodiscard]] std::size_t sources() const { return by_source_.size(); }

private:
    struct Seen {
        std::uint64_t packets = 0;
        Clock::time_point last;
        std::map<ServicePort, std::uint64_t> services;
    };
    void forget_oldest();

    std::size_t max_sources_;
    std::map<Network, Seen> by_source_;
};

// "tcp", "udp" → the protocol; nullopt for anything else.
std::optional<Protocol> protocol_named(std::string_view name);

// The request the CLI sends for `address`, and the answer when the audit is off.
std::string explain_request(const Network& address);
nlohmann::json not_logging_answer();

// The daemon's answer (one JSON line) as the CLI reads it; Known::unanswered for anything else.
RecentBlocked read_blocked_answer(const std::string& answer);

} // namespace memguard
