// The legacy backend's words for people: `status`'s picture of a family and what remove took.
#include "allowset.hpp"
#include "iptc/snapshot.hpp"
#include "legacy_backend.hpp"
#include "ownership.hpp"

#include <algorithm>

namespace memguard {

namespace {

ViewChain chain_view(std::string name, bool exists, bool ours,
                     const std::vector<KernelRule>& rules) {
    ViewChain chain{std::move(name), exists, ours, {}};
    for (std::size_t i = 0; i < rules.size(); ++i) {
        const KernelRule& k = rules[i];
        chain.rules.push_back({i + 1,
                               k.rule ? to_string(*k.rule) : "(not memguardd's) -j " + k.target,
                               k.ours(), k.packets, k.bytes});
    }
    return chain;
}

} // namespace

FamilyView view_of(const KernelView& view) {
    FamilyView out;
    out.family = view.family;
    // Every INPUT rule ("ours" tells), so scripts see what is above our jumps.
    out.chains.push_back(chain_view(std::string(input_chain), true, false, view.input));
    const Claims claims = claim(view);
    out.chains.push_back(
        chain_view(std::string(chain_name), view.chain_exists, claims.chain, view.chain));
    if (view.mangle) {
        const MangleView& m = *view.mangle;
        out.chains.push_back(
            chain_view("mangle " + std::string(prerouting_chain), true, false, m.prerouting));
        out.chains.push_back(
            chain_view("mangle " + std::string(forward_chain), true, false, m.forward));
        out.chains.push_back(chain_view("mangle " + std::string(chain_name), m.chain_exists,
                                        claims.mangle_chain, m.chain));
    }
    for (const auto& [name, set] : view.sets) {
        out.sets.push_back(
            {name, claims.set_usable(name), set.usable, set.members.size(), set.references});
    }
    return out;
}

std::string removed_parts(const KernelView& before, bool committed) {
    const Claims claims = claim(before);
    std::string removed;
    auto add = [&removed](const std::string& part) {
        removed += (removed.empty() ? "removed " : " and ") + part;
    };
    if (const auto jumps = std::ranges::count_if(before.input, &KernelRule::ours); jumps > 0) {
        add(std::to_string(jumps) + " rule(s) in " + std::string(input_chain));
    }
    if (before.chain_exists && claims.chain) {
        add("chain " + std::string(chain_name));
    }
    if (before.mangle) {
        const MangleView& m = *before.mangle;
        const auto ours = std::ranges::count_if(m.forward, &KernelRule::ours) +
                          std::ranges::count_if(m.prerouting, &KernelRule::ours);
        if (ours > 0) {
            add(std::to_string(ours) + " rule(s) in mangle " + std::string(forward_chain) + "/" +
                std::string(prerouting_chain));
        }
        if (m.chain_exists && claims.mangle_chain) {
            add("mangle chain " + std::string(chain_name));
        }
    }
    for (const auto& [name, set] : before.sets) {
        if (claims.set_usable(name)) {
            add("ipset " + name);
        }
    }
    if (!committed || removed.empty()) {
        return "nothing of memguardd's was there";
    }
    return removed;
}

bool legacy_tables_present() {
    try {
        (void)iptc::read_snapshot(Family::ipv4);
        return true;
    } catch (const LegacyTablesMissing&) {
        return false;
    } catch (const KernelError&) {
        return true; // there, but unreadable for another reason: the backend will say why
    }
}

} // namespace memguard
