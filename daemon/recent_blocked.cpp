#include "recent_blocked.hpp"

#include <algorithm>

namespace memguard {

namespace {

// Ports kept per source: a scan of every port from one address is still one entry.
constexpr std::size_t kMaxServices = 16;

} // namespace

void BlockedSources::add(const netlink::BlockedPacket& packet, Clock::time_point now) {
    if (!by_source_.contains(packet.source) && by_source_.size() >= max_sources_) {
        forget_oldest();
    }
    Seen& seen = by_source_[packet.source];
    ++seen.packets;
    seen.last = now;
    if (!packet.protocol) {
        return;
    }
    const ServicePort service{*packet.protocol, packet.dport};
    if (seen.services.contains(service) || seen.services.size() < kMaxServices) {
        ++seen.services[service];
    }
}

// Forgets the quarter of the sources seen longest ago, so that a flood of new sources costs
// one sort per quarter of the table, not one per packet.
void BlockedSources::forget_oldest() {
    std::vector<Clock::time_point> times;
    times.reserve(by_source_.size());
    for (const auto& [source, seen] : by_source_) {
        times.push_back(seen.last);
    }
    const auto cut = times.begin() + static_cast<std::ptrdiff_t>(times.size() / 4);
    std::nth_element(times.begin(), cut, times.end());
    const Clock::time_point oldest_kept = *cut;
    std::erase_if(by_source_, [&](const auto& entry) { return entry.second.last < oldest_kept; });
    if (by_source_.size() >= max_sources_) { // every time equal: forget any one
        by_source_.erase(by_source_.begin());
    }
}

nlohmann::json BlockedSources::about(const Network& address) const {
    nlohmann::json out{{"logging", true},
                       {"packets", 0},
                       {"last", nullptr},
                       {"services", nlohmann::json::array()}};
    const auto found = by_source_.find(address);
    if (found == by_source_.end()) {
        return out;
    }
    const Seen& seen = found->second;
    out["packets"] = seen.packets;
    out["last"] =
        std::chrono::duration_cast<std::chrono::seconds>(seen.last.time_since_epoch()).count();
    for (const auto& [service, packets] : seen.services) {
        out["services"].push_back({{"protocol", to_string(service.first)},
                                   {"port", service.second},
                                   {"packets", packets}});
    }
    return out;
}

std::optional<Protocol> protocol_named(std::string_view name) {
    for (const auto p : {Protocol::tcp, Protocol::udp}) {
        if (name == to_string(p)) {
            return p;
        }
    }
    return std::nullopt;
}

std::string explain_request(const Network& address) {
    return "explain " + address.to_string();
}

nlohmann::json not_logging_answer() {
    return {{"logging", false}};
}

RecentBlocked read_blocked_answer(const std::string& answer) {
    RecentBlocked out;
    out.known = RecentBlocked::Known::unanswered;
    try {
        const auto j = nlohmann::json::parse(answer);
        if (j.contains("error")) {
            out.why = j.at("error").get<std::string>();
            return out;
        }
        if (!j.at("logging").get<bool>()) {
            out.known = RecentBlocked::Known::not_logged;
            return out;
        }
        out.packets = j.at("packets").get<std::uint64_t>();
        if (!j.at("last").is_null()) {
            out.last = Clock::time_point(std::chrono::seconds(j.at("last").get<std::int64_t>()));
        }
        for (const auto& s : j.at("services")) {
            const auto protocol = protocol_named(s.at("protocol").get<std::string>());
            if (!protocol) {
                continue;
            }
            out.services[{*protocol, s.at("port").get<std::uint16_t>()}] =
                s.at("packets").get<std::uint64_t>();
        }
        out.known = RecentBlocked::Known::yes;
    } catch (const nlohmann::json::exception& e) {
        out.why = std::string("its answer does not read: ") + e.what();
    }
    return out;
}

} // namespace memguard
