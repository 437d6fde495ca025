// Rate-limited audit of blocked packets: turns a stream of BlockedPackets into a few summary
// lines. Pure (no clock, no I/O): the caller passes the time, so tests drive it step by step.
//
// Per flow — source address, protocol, port, input interface — the first packet is reported at
// the next flush (a single probe shows up at once); later ones are counted and reported at most
// once per window ("blocked 203 packets from 10.0.0.5 (tcp/11211 on eth0) in the last 10 s").
// A flow idle for a whole window is forgotten, so its next packet is news again. At most
// `max_flows` flows are tracked; packets of any further flow are only counted, together, and
// reported once per window as "from about N other sources", so a flood from many addresses
// costs a fixed amount of memory.
#pragma once

#include "nflog.hpp"

#include <array>
#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace memguard::netlink {

struct AuditSummary {
    enum class Kind : std::uint8_t {
        first_packet,  // a flow's first packet, reported at once
        aggregated,    // a flow's packets over `period`
        other_sources, // packets of flows beyond the tracking limit, over `period`
        lost,          // notifications the kernel dropped before we read them
    };
    Kind kind = Kind::first_packet;
    std::uint64_t packets = 0;
    // first_packet, aggregated: the flow. Empty for other_sources and lost.
    std::string source; // "10.0.0.5", "2001:db8::7"
    std::optional<Family> family;
    std::optional<Protocol> protocol;
    std::uint16_t dport = 0;
    std::string in_iface;
    std::string prefix; // the first packet's NFLOG prefix
    // other_sources: distinct sources among those packets (an estimate, see audit.cpp).
    std::uint64_t sources = 0;
    // The span the count covers (aggregated, other_sources, lost); zero for first_packet.
    std::chrono::seconds period{0};

    // One log line, e.g. "blocked 203 packets from 10.0.0.5 (tcp/11211 on eth0) in the last 10 s".
    [[nodiscard]] std::string to_string() const;
};

class AuditAggregator {
public:
    using Clock = std::chrono::steady_clock;

    struct Options {
        std::chrono::seconds window{10};
        std::size_t max_flows = 1000;
    };

    AuditAggregator();
    explicit AuditAggregator(Options options);

    void add(const BlockedPacket& packet, Clock::time_point now);
    // Notifications lost before they could be read (NflogListener::Counters::lost growth);
    // reported at most once per window.
    void add_lost(std::uint64_t count, Clock::time_point now);

    // The summaries due at `now`: new flows, flows whose window has passed with packets in it,
    // the untracked remainder and losses once per window. Forgets flows idle for a window.
    std::vector<AuditSummary> flush(Clock::time_point now);

    [[nodiscard]] std::size_t tracked_flows() const { return flows_.size(); }

private:
    struct Key {
        Family family = Family::ipv4;
        std::array<std::uint8_t, 16> addr{};
        std::optional<Protocol> protocol;
        std::uint16_t dport = 0;
        std::string in_iface;
        auto operator<=>(const Key&) const = default;
    };
    struct Flow {
        BlockedPacket first;
        std::uint64_t pending = 0; // packets not yet reported
        bool reported = false;     // the first report is out
        Clock::time_point since;   // start of the span `pending` covers
    };
    // Counts packets and estimates distinct sources in fixed memory (linear counting).
    struct Remainder {
        std::uint64_t packets = 0;
        std::array<std::uint64_t, 64> bitmap{}; // 4096 bits
        std::optional<Clock::time_point> since;
        void add(const Network& source, Clock::time_point now);
        [[nodiscard]] std::uint64_t estimated_sources() const;
    };

    Options options_;
    std::map<Key, Flow> flows_;
    Remainder others_;
    std::uint64_t lost_ = 0;
    std::optional<Clock::time_point> lost_since_;       // first loss not yet reported
    std::optional<Clock::time_point> lost_reported_at_; // last loss report
};

} // namespace memguard::netlink
