#include "backend.hpp"

#include "legacy/legacy_backend.hpp"
#include "nft/nft_backend.hpp"

#include <algorithm>

namespace memguard {

bool FamilyView::has_ours() const {
    const auto rule_ours = [](const ViewRule& r) { return r.ours; };
    return std::ranges::any_of(chains,
                               [&](const ViewChain& c) {
                                   return (c.exists && c.ours) ||
                                          std::ranges::any_of(c.rules, rule_ours);
                               }) ||
           std::ranges::any_of(sets, [](const ViewSet& s) { return s.ours; });
}

std::string_view Backend::name() const {
    return to_string(kind());
}

std::string_view to_string(BackendChoice choice) {
    switch (choice) {
    case BackendChoice::automatic:
        return "auto";
    case BackendChoice::iptables_legacy:
        return "iptables-legacy";
    case BackendChoice::nftables:
        return "nftables";
    }
    return "?";
}

BackendPick pick_backend(BackendChoice choice) {
    if (choice != BackendChoice::automatic) {
        return {choice,
                "the config asks for it (\"backend\": \"" + std::string(to_string(choice)) + "\")"};
    }
    if (legacy_tables_present()) {
        return {BackendChoice::iptables_legacy,
                "\"backend\": \"auto\" and the kernel has legacy x_tables"};
    }
    return {BackendChoice::nftables, "\"backend\": \"auto\" and the kernel has no legacy x_tables"};
}

std::unique_ptr<Backend> make_backend(BackendChoice kind) {
    if (kind == BackendChoice::nftables) {
        return make_nft_backend();
    }
    return make_legacy_backend();
}

} // namespace memguard
