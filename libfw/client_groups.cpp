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

// Where one client belongs, and why.
class Judge {
public:
    Judge(const Policy& policy, std::span<const Network> local)
        : allowed_(policy.allow), local_(local), loopback_(policy.allow_loopback) {}

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

private:
    NetworkIndex allowed_;
    NetworkIndex local_;
    bool loopback_;
};

bool listed_before(const ClientGroup& a, const ClientGroup& b) {
    const auto key = [](const ClientGroup& g) {
        // Negated counts sort the larger first.
        return std::tuple(g.verdict != ClientVerdict::blocked,
                          -static_cast<long long>(g.clients.size()),
                          -static_cast<long long>(g.tcp + g.udp), g.network, g.verdict);
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
    return "?";
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
    const Judge judge(policy, local);
    std::map<std::pair<ClientVerdict, Network>, ClientGroup> groups;
    for (const auto& contact : contacts) {
        const Network client = unmapped(contact.client);
        const auto key = judge(client);
        auto& group = groups[key];
        group.verdict = key.first;
        group.network = key.second;
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
    const auto contacts = current_contacts(policy.ports, policy.protocols, NetworkIndex(local));
    return group_clients(contacts, policy, local);
}

} // namespace memguard
