#include "labels.hpp"

#include <set>
#include <string_view>

namespace memguard {

LabelIndex::LabelIndex(const Policy& policy) {
    std::vector<Network> labelled;
    for (const auto& g : policy.guards) {
        for (const auto proto : g.protocols) {
            for (const auto port : g.ports) {
                guards_.emplace(std::pair{proto, port}, g.name);
            }
        }
        for (const auto& [net, label] : g.labels) {
            // The same network labelled in two guards: the first guard's label names it.
            if (labels_.emplace(net.canonical(), label).second) {
                labelled.push_back(net.canonical());
            }
        }
    }
    labelled_ = NetworkIndex(labelled);
}

std::string LabelIndex::guard_of(Protocol protocol, std::uint16_t port) const {
    const auto at = guards_.find({protocol, port});
    return at == guards_.end() ? "" : at->second;
}

std::string LabelIndex::label_of(const Network& address) const {
    const auto entry = labelled_.most_specific(address);
    return entry ? labels_.at(*entry) : "";
}

std::string LabelIndex::labels_of(const std::vector<Network>& networks) const {
    std::string out;
    std::set<std::string_view> shown; // an entry labelled in both families is named once
    for (const auto& net : networks) {
        const auto at = labels_.find(net.canonical());
        if (at != labels_.end() && !shown.contains(at->second)) {
            shown.insert(at->second);
            out += (out.empty() ? "" : ", ") + at->second;
        }
    }
    return out;
}

} // namespace memguard
