#include "status_guards.hpp"

namespace memguard {

using nlohmann::json;

json guards_summary(const Policy& policy) {
    json out = json::array();
    for (const auto& g : policy.guards) {
        json protocols = json::array();
        for (const auto p : g.protocols) {
            protocols.push_back(to_string(p));
        }
        out.push_back({{"name", g.name},
                       {"ports", g.ports},
                       {"protocols", std::move(protocols)},
                       {"allowed", g.allow.size()},
                       {"labelled", g.labels.size()}});
    }
    return out;
}

json guards_json(const Policy& policy) {
    json out = guards_summary(policy);
    for (std::size_t i = 0; i < policy.guards.size(); ++i) {
        const GuardSpec& g = policy.guards[i];
        json allow = json::array();
        for (const auto& net : g.allow) {
            const auto label = g.labels.find(net);
            allow.push_back({{"net", net.to_string()},
                             {"label", label == g.labels.end() ? json() : json(label->second)}});
        }
        out[i]["allow"] = std::move(allow);
    }
    return out;
}

} // namespace memguard
