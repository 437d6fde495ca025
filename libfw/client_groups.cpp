#include "client_groups.hpp"

#include "network_index.hpp"
#include "sweep.hpp"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

namespace memguard {

namespace {

// A blocked client's network: what an allowlist entry for its neighbours would likely be.
constexpr unsigned kBlockedPrefix4 = 24;
constexpr unsigned kBlockedPrefix6 = 64;

Network loopback4() {
    return {.family = Family::ipv4, .addr = {127}, .prefix = 8};
}

// Where one client of one guard belongs, and why.
class Judge {
public:
    Judge(const Policy& policy, const GuardSpec& guard, std::span<const Network> local)
        : guard_(&guard), allowed_(guard.allow), local_(local), loopback_(policy.allow_loopback) {}

    [[nodiscard]] std::pair<ClientVerdict, Network> operator()(const Network& client) const {
        if (loopback_ && local_.contains(client)) {
            return {ClientVerdict::local, loopback4().contains(client) ? loopback4() : client};
        }
        if (const auto entry = allowed_.most_specific(client)) {
            return {ClientVerdict::allowed, *entry};
        }
        Network around = client;
        around.prefix = client.family == Family::ipv4 ? kBlockedPrefix4 : kBlockedPrefix6;
        return {ClientVerdict::blocked, around.canonical()};
    }
    [[nodiscard]] const GuardSpec& guard() const { return *guard_; }
    [[nodiscard]] bool guards(const Contact& c) const {
        return std::ranges::count(guard_->ports, c.port) > 0 &&
               std::ranges::count(guard_->protocols, c.protocol) > 0;
    }

private:
    const GuardSpec* guard_;
    NetworkIndex allowed_;
    NetworkIndex local_;
    bool loopback_;
};

bool listed_before(const ClientGroup& a, const ClientGroup& b) {
    const auto key = [](const ClientGroup& g) {
        // Negated counts sort the larger first.
        return std::tuple(g.verdict != ClientVerdict::blocked,
                          -static_cast<long long>(g.clients.size()),
                          -static_cast<long long>(g.tcp + g.udp), g.network, g.verdict, g.guard);
    };
    return key(a) < key(b);
}

} // namespace

std::string_view to_string(ClientVerdict v) {
    switch (v) {
    case ClientVerdict::blocked:
        return "blocked";
    case ClientVerdict::allowed:
        return "allowed";
    case ClientVerdict::local:
        return "local";
    }
    return "(a verdict this build does not know)"; // a value outside the enum
}

Network unmapped(const Network& address) {
    constexpr std::array<std::uint8_t, 12> mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (address.family != Family::ipv6 || address.prefix != address.max_prefix() ||
        !std::equal(mapped_prefix.begin(), mapped_prefix.end(), address.addr.begin())) {
        return address;
    }
    Network v4{.family = Family::ipv4, .addr = {}, .prefix = 32};
    std::copy_n(address.addr.begin() + mapped_prefix.size(), 4, v4.addr.begin());
    return v4;
}

std::vector<ClientGroup> group_clients(std::span<const Contact> contacts, const Policy& policy,
                                       std::span<const Network> local) {
    std::vector<Judge> judges;
    for (const auto& g : policy.guards) {
        judges.emplace_back(policy, g, local);
    }
    std::map<std::tuple<std::string, ClientVerdict, Network>, ClientGroup> groups;
    for (const auto& contact : contacts) {
        const auto judge =
            std::ranges::find_if(judges, [&](const Judge& j) { return j.guards(contact); });
        if (judge == judges.end()) {
            continue; // a port no guard has (any more)
        }
        const Network client = unmapped(contact.client);
        const auto [verdict, network] = (*judge)(client);
        const GuardSpec& guard = judge->guard();
        auto& group = groups[{guard.name, verdict, network}];
        group.verdict = verdict;
        group.network = network;
        group.guard = guard.name;
        if (const auto label = guard.labels.find(network);
            verdict == ClientVerdict::allowed && label != guard.labels.end()) {
            group.label = label->second;
        }
        group.clients.push_back(client);
        ++(contact.protocol == Protocol::tcp ? group.tcp : group.udp);
    }
    std::vector<ClientGroup> sorted;
    sorted.reserve(groups.size());
    for (auto& [key, group] : groups) {
        std::ranges::sort(group.clients);
        group.clients.erase(std::unique(group.clients.begin(), group.clients.end()),
                            group.clients.end());
        sorted.push_back(std::move(group));
    }
    std::ranges::sort(sorted, listed_before);
    return sorted;
}

std::vector<ClientGroup> list_clients(const Policy& policy) {
    const std::vector<Network> local = local_sources();
    const auto contacts =
        current_contacts(all_ports(policy), all_protocols(policy), NetworkIndex(local));
    return group_clients(contacts, policy, local);
}

} // namespace memguard
