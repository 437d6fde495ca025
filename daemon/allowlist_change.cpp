#include "allowlist_change.hpp"

#include <algorithm>

namespace memguard {

namespace {

constexpr std::size_t shown = 5;

const GuardSpec* find_guard(const Policy& policy, const std::string& name) {
    const auto it = std::ranges::find(policy.guards, name, &GuardSpec::name);
    return it == policy.guards.end() ? nullptr : &*it;
}

// The entries of `from` that `other` does not list, with their labels into `labels`.
std::vector<Network> missing_from(const GuardSpec* from, const GuardSpec* other,
                                  std::map<Network, std::string>& labels) {
    std::vector<Network> out;
    if (from == nullptr) {
        return out;
    }
    for (const auto& net : from->allow) {
        if (other == nullptr || std::ranges::count(other->allow, net) == 0) {
            out.push_back(net);
            if (const auto label = from->labels.find(net); label != from->labels.end()) {
                labels.emplace(net, label->second);
            }
        }
    }
    return out;
}

AllowlistChange change_of(const std::string& name, const GuardSpec* before,
                          const GuardSpec* after) {
    AllowlistChange change{name, {}, {}, {}};
    change.allowed = missing_from(after, before, change.labels);
    change.revoked = missing_from(before, after, change.labels);
    return change;
}

} // namespace

std::string AllowlistChange::describe() const {
    const auto list = [&](const char* verb, const std::vector<Network>& networks) {
        std::string out = verb;
        for (std::size_t i = 0; i < networks.size() && i < shown; ++i) {
            out += (i == 0 ? " " : ", ") + networks[i].to_string();
            if (const auto label = labels.find(networks[i]); label != labels.end()) {
                out += " (" + label->second + ")";
            }
        }
        if (networks.size() > shown) {
            out += " and " + std::to_string(networks.size() - shown) + " more";
        }
        return out;
    };
    std::string out = allowed.empty() ? "" : list("allowed", allowed);
    if (!revoked.empty()) {
        out += (out.empty() ? "" : "; ") + list("revoked", revoked);
    }
    return out;
}

std::vector<AllowlistChange> allowlist_changes(const Policy& before, const Policy& after) {
    std::vector<AllowlistChange> out;
    const auto add = [&](const std::string& name) {
        auto change = change_of(name, find_guard(before, name), find_guard(after, name));
        if (!change.allowed.empty() || !change.revoked.empty()) {
            out.push_back(std::move(change));
        }
    };
    for (const auto& g : after.guards) {
        add(g.name);
    }
    for (const auto& g : before.guards) {
        if (find_guard(after, g.name) == nullptr) {
            add(g.name);
        }
    }
    return out;
}

} // namespace memguard
