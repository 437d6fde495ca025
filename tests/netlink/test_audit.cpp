// AuditAggregator: driven with a fake clock.
#include "support.hpp"

#include "netlink/audit.hpp"

using memguard::Family;
using memguard::Protocol;
using memguard::netlink::AuditAggregator;
using memguard::netlink::AuditSummary;
using memguard::netlink::BlockedPacket;
using namespace std::chrono_literals;

namespace {

using Kind = AuditSummary::Kind;
const AuditAggregator::Clock::time_point t0{};

BlockedPacket packet(const char* source, Protocol proto = Protocol::tcp, std::uint16_t port = 11211,
                     const char* iface = "eth0") {
    const auto n = test::net(source);
    return {n.family, n, proto, port, iface, "memguard"};
}

} // namespace

TEST_CASE("audit: the first packet of a source is reported at once", "[audit]") {
    AuditAggregator a;
    a.add(packet("10.0.0.5"), t0);
    const auto out = a.flush(t0);
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == Kind::first_packet);
    CHECK(out[0].packets == 1);
    CHECK(out[0].source == "10.0.0.5");
    CHECK(out[0].family == Family::ipv4);
    CHECK(out[0].protocol == Protocol::tcp);
    CHECK(out[0].dport == 11211);
    CHECK(out[0].in_iface == "eth0");
    CHECK(out[0].prefix == "memguard");
    CHECK(out[0].to_string() == "blocked 1 packet from 10.0.0.5 (tcp/11211 on eth0)");
}

TEST_CASE("audit: later packets are summed once per window", "[audit]") {
    AuditAggregator a;
    a.add(packet("10.0.0.5"), t0);
    REQUIRE(a.flush(t0).size() == 1);
    for (int i = 0; i < 203; ++i) {
        a.add(packet("10.0.0.5"), t0 + 1s);
    }
    CHECK(a.flush(t0 + 1s).empty());
    CHECK(a.flush(t0 + 9s).empty());
    const auto out = a.flush(t0 + 10s);
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == Kind::aggregated);
    CHECK(out[0].packets == 203);
    CHECK(out[0].period == 10s);
    CHECK(out[0].to_string() ==
          "blocked 203 packets from 10.0.0.5 (tcp/11211 on eth0) in the last 10 s");
    CHECK(a.flush(t0 + 11s).empty());
}

TEST_CASE("audit: a source idle for a window is forgotten and news again", "[audit]") {
    AuditAggregator a;
    a.add(packet("10.0.0.5"), t0);
    REQUIRE(a.flush(t0).size() == 1);
    CHECK(a.flush(t0 + 10s).empty()); // nothing new: forgotten
    CHECK(a.tracked_flows() == 0);
    a.add(packet("10.0.0.5"), t0 + 12s);
    const auto out = a.flush(t0 + 12s);
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == Kind::first_packet);
}

TEST_CASE("audit: flows differ by protocol, port and interface", "[audit]") {
    AuditAggregator a;
    a.add(packet("10.0.0.5", Protocol::tcp), t0);
    a.add(packet("10.0.0.5", Protocol::udp), t0);
    a.add(packet("10.0.0.5", Protocol::udp, 11211, "eth1"), t0);
    a.add(packet("2001:db8::7", Protocol::udp, 11211, ""), t0);
    const auto out = a.flush(t0);
    CHECK(out.size() == 4);
    bool v6_seen = false;
    for (const auto& s : out) {
        if (s.source == "2001:db8::7") {
            v6_seen = true;
            CHECK(s.to_string() == "blocked 1 packet from 2001:db8::7 (udp/11211)");
        }
    }
    CHECK(v6_seen);
}

TEST_CASE("audit: a flood from many sources stays within the tracking limit", "[audit]") {
    AuditAggregator a({.window = 10s, .max_flows = 100});
    for (int i = 0; i < 5000; ++i) {
        const std::string src = "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250);
        a.add(packet(src.c_str()), t0);
        a.add(packet(src.c_str()), t0); // two packets each
    }
    CHECK(a.tracked_flows() == 100);
    const auto first = a.flush(t0);
    CHECK(first.size() == 100); // the tracked ones, at once; the rest wait for the window
    for (const auto& s : first) {
        CHECK(s.kind == Kind::first_packet);
        CHECK(s.packets == 2);
    }
    const auto later = a.flush(t0 + 10s);
    REQUIRE(later.size() == 1); // tracked flows idle now: forgotten, not reported
    CHECK(later[0].kind == Kind::other_sources);
    CHECK(later[0].packets == 9800);
    // 4900 distinct sources, estimated in fixed memory: within 10 %.
    CHECK(later[0].sources > 4400);
    CHECK(later[0].sources < 5400);
    CHECK(later[0].to_string().find("blocked 9800 packets from about ") == 0);
    CHECK(a.tracked_flows() == 0);
}

TEST_CASE("audit: lost notifications are reported once per window", "[audit]") {
    AuditAggregator a;
    a.add_lost(0, t0);
    CHECK(a.flush(t0).empty());
    a.add_lost(17, t0);
    auto out = a.flush(t0 + 2s);
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == Kind::lost);
    CHECK(out[0].packets == 17);
    CHECK(out[0].to_string() ==
          "lost 17 blocked-packet notifications in the last 2 s (netlink receive buffer overrun)");
    a.add_lost(3, t0 + 3s);
    CHECK(a.flush(t0 + 5s).empty());
    out = a.flush(t0 + 12s);
    REQUIRE(out.size() == 1);
    CHECK(out[0].packets == 3);
}

TEST_CASE("audit: unknown protocol and port are said so", "[audit]") {
    AuditAggregator a;
    BlockedPacket p = packet("10.0.0.5");
    p.protocol.reset();
    p.dport = 0;
    a.add(p, t0);
    const auto out = a.flush(t0);
    REQUIRE(out.size() == 1);
    CHECK(out[0].to_string() == "blocked 1 packet from 10.0.0.5 (other protocol on eth0)");
}
