#include "model.hpp"

#include "policy.hpp"

#include <algorithm>

namespace memguard::nft {

namespace {

template <typename Vec> auto* find_named(Vec& items, std::string_view name) {
    auto it =
        std::find_if(items.begin(), items.end(), [name](const auto& x) { return x.name == name; });
    return it == items.end() ? nullptr : &*it;
}

} // namespace

const ChainModel* TableModel::chain(std::string_view n) const {
    return find_named(chains, n);
}
const SetModel* TableModel::set(std::string_view n) const {
    return find_named(sets, n);
}
ChainModel* TableModel::chain(std::string_view n) {
    return find_named(chains, n);
}
SetModel* TableModel::set(std::string_view n) {
    return find_named(sets, n);
}

std::string guard_chain(Family family) {
    return family == Family::ipv4 ? "guard4" : "guard6";
}

std::string allow_set(Family family, std::string_view guard) {
    std::string name = family == Family::ipv4 ? "allow4" : "allow6";
    if (!guard.empty() && guard != default_guard_name) {
        name.append("-").append(guard);
    }
    return name;
}

} // namespace memguard::nft
