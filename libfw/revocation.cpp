#include "revocation.hpp"

#include "sweep.hpp"

#include <algorithm>

namespace memguard {

std::vector<Network> revoked_sources(const Report& report) {
    std::vector<Network> sources;
    for (const auto& f : report.families) {
        sources.insert(sources.end(), f.revoked.begin(), f.revoked.end());
    }
    std::ranges::sort(sources);
    sources.erase(std::unique(sources.begin(), sources.end()), sources.end());
    return sources;
}

std::string first_few(const std::vector<Network>& networks, std::size_t total) {
    constexpr std::size_t shown = 5;
    std::string out;
    for (std::size_t i = 0; i < networks.size() && i < shown; ++i) {
        out += (i == 0 ? "" : ", ") + networks[i].to_string();
    }
    if (total > std::min(shown, networks.size())) {
        out += " and " + std::to_string(total - std::min(shown, networks.size())) + " more";
    }
    return out;
}

std::string Revocation::describe() const {
    std::string out = revoked.empty() ? ""
                      : labels.empty()
                          ? "revoked " + first_few(revoked, revoked.size()) + ": "
                          : "revoked " + first_few(revoked, revoked.size()) + " (" + labels + "): ";
    out += "cut " + std::to_string(cut.deleted) + " open connection(s)";
    if (cut.distinct_sources > 0) {
        out += " from sources not allowed (" + first_few(cut.sources, cut.distinct_sources) + ")";
    }
    return out;
}

Revocation revoke_unallowed(const Report& report, const Policy& policy) {
    return {revoked_sources(report), {}, sweep_unallowed(policy)};
}

} // namespace memguard
