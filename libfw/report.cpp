#include "report.hpp"

#include <algorithm>

namespace memguard {

bool Report::changed() const {
    return std::ranges::any_of(families, [](const FamilyReport& f) { return f.committed; });
}

std::size_t Report::drift_count() const {
    std::size_t n = 0;
    for (const auto& f : families) {
        n += f.drift.size();
    }
    return n;
}

bool Report::failed() const {
    return std::ranges::any_of(families, [](const FamilyReport& f) { return !f.error.empty(); });
}

} // namespace memguard
