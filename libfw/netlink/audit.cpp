#include "audit.hpp"

#include <bit>
#include <cmath>

namespace memguard::netlink {

namespace {

using std::chrono::duration_cast;
using std::chrono::seconds;

std::string plural(std::uint64_t n, std::string_view word) {
    return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

std::string target(const AuditSummary& s) {
    std::string out;
    if (s.protocol) {
        out = std::string(to_string(*s.protocol));
        if (s.dport != 0) {
            out.append("/").append(std::to_string(s.dport)); // not "/" + …: GCC 12 -Wrestrict
        }
    } else {
        out = "other protocol";
    }
    if (!s.in_iface.empty()) {
        out += " on " + s.in_iface;
    }
    return out;
}

std::string over(seconds period) {
    return period.count() > 0 ? " in the last " + std::to_string(period.count()) + " s" : "";
}

// FNV-1a (http://www.isthe.com/chongo/tech/comp/fnv/) over the family and address bytes, then
// MurmurHash3's fmix64 finalizer: FNV's low bits spread neighbouring addresses too evenly
// (almost a permutation), which makes linear counting overestimate; the finalizer makes the bits
// behave like random ones, as the estimator assumes.
std::uint64_t hash(const Network& n) {
    std::uint64_t h = 14695981039346656037ull;
    auto mix = [&](std::uint8_t byte) {
        h ^= byte;
        h *= 1099511628211ull;
    };
    mix(static_cast<std::uint8_t>(n.family));
    for (std::size_t i = 0; i < n.size(); ++i) {
        mix(n.addr[i]);
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

} // namespace

std::string AuditSummary::to_string() const {
    switch (kind) {
    case Kind::first_packet:
    case Kind::aggregated:
        return "blocked " + plural(packets, "packet") + " from " + source + " (" + target(*this) +
               ")" + over(period);
    case Kind::other_sources:
        return "blocked " + plural(packets, "packet") + " from about " +
               plural(sources, "other source") + over(period) +
               " (too many sources to report one by one)";
    case Kind::lost:
        return "lost " + plural(packets, "blocked-packet notification") + over(period) +
               " (netlink receive buffer overrun)";
    }
    return {};
}

AuditAggregator::AuditAggregator() : AuditAggregator(Options{}) {}

AuditAggregator::AuditAggregator(Options options) : options_(options) {}

void AuditAggregator::add(const BlockedPacket& packet, Clock::time_point now) {
    Key key{packet.source.family, packet.source.addr, packet.protocol, packet.dport,
            packet.in_iface};
    auto it = flows_.find(key);
    if (it == flows_.end()) {
        if (flows_.size() >= options_.max_flows) {
            others_.add(packet.source, now);
            return;
        }
        it = flows_.emplace(std::move(key), Flow{packet, 0, false, now}).first;
    }
    ++it->second.pending;
}

void AuditAggregator::add_lost(std::uint64_t count, Clock::time_point now) {
    if (count == 0) {
        return;
    }
    lost_ += count;
    if (!lost_since_) {
        lost_since_ = now;
    }
}

std::vector<AuditSummary> AuditAggregator::flush(Clock::time_point now) {
    std::vector<AuditSummary> out;
    for (auto it = flows_.begin(); it != flows_.end();) {
        Flow& flow = it->second;
        const bool window_over = now - flow.since >= options_.window;
        if (flow.reported && window_over && flow.pending == 0) {
            it = flows_.erase(it); // idle for a whole window: forget it
            continue;
        }
        if (!flow.reported || (window_over && flow.pending > 0)) {
            AuditSummary s;
            s.kind =
                flow.reported ? AuditSummary::Kind::aggregated : AuditSummary::Kind::first_packet;
            s.packets = flow.pending;
            s.source = flow.first.source.to_string();
            s.family = flow.first.family;
            s.protocol = flow.first.protocol;
            s.dport = flow.first.dport;
            s.in_iface = flow.first.in_iface;
            s.prefix = flow.first.prefix;
            s.period = duration_cast<seconds>(now - flow.since);
            out.push_back(std::move(s));
            flow.reported = true;
            flow.pending = 0;
            flow.since = now;
        }
        ++it;
    }
    if (others_.since && now - *others_.since >= options_.window) {
        AuditSummary s;
        s.kind = AuditSummary::Kind::other_sources;
        s.packets = others_.packets;
        s.sources = others_.estimated_sources();
        s.period = duration_cast<seconds>(now - *others_.since);
        out.push_back(std::move(s));
        others_ = Remainder{};
    }
    if (lost_ > 0 && (!lost_reported_at_ || now - *lost_reported_at_ >= options_.window)) {
        AuditSummary s;
        s.kind = AuditSummary::Kind::lost;
        s.packets = lost_;
        s.period = duration_cast<seconds>(now - *lost_since_);
        out.push_back(std::move(s));
        lost_ = 0;
        lost_since_.reset();
        lost_reported_at_ = now;
    }
    return out;
}

void AuditAggregator::Remainder::add(const Network& source, Clock::time_point now) {
    if (!since) {
        since = now;
    }
    ++packets;
    const std::uint64_t bit = (hash(source) >> 52) % (bitmap.size() * 64); // top 12 bits
    bitmap[bit / 64] |= std::uint64_t{1} << (bit % 64);
}

// Linear counting (Whang, Vander-Zanden, Taylor, "A linear-time probabilistic counting
// algorithm for database applications", 1990): with m bits of which z are still zero after
// hashing every source into one bit, n ≈ m·ln(m/z). Within a few percent up to several times m;
// with every bit set it can only say "at least m·ln(m)". Never more than the packets counted.
std::uint64_t AuditAggregator::Remainder::estimated_sources() const {
    const double m = static_cast<double>(bitmap.size() * 64);
    std::size_t set = 0;
    for (const std::uint64_t word : bitmap) {
        set += static_cast<std::size_t>(std::popcount(word));
    }
    const double zero = m - static_cast<double>(set);
    const double estimate = zero > 0 ? m * std::log(m / zero) : m * std::log(m);
    const auto n = static_cast<std::uint64_t>(std::llround(estimate));
    return n < packets ? n : packets;
}

} // namespace memguard::netlink
