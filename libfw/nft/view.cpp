// Our nftables tables as `status` shows them, one family at a time: the base chains' jumps of
// that family (input, prerouting, forward) with the other ports' accept heading them, its guard
// chain and its allow sets.
#include "nft_backend.hpp"

#include <linux/netfilter/nf_tables.h>

#include <algorithm>

namespace memguard {

namespace {

// A base chain in `family`'s view: its rules but the other family's jumps (the accept of other
// ports heads it for both families).
ViewChain chain_view(const nft::TableModel& table, const std::string& name, Family family,
                     bool only_jumps) {
    ViewChain view;
    view.name = table.name == nft::kTableName ? name : table.name + "/" + name;
    const nft::ChainModel* chain = table.chain(name);
    if (chain == nullptr) {
        return view;
    }
    view.exists = true;
    view.ours = table.ours();
    for (std::size_t i = 0; i < chain->rules.size(); ++i) {
        const nft::RuleModel& r = chain->rules[i];
        if (only_jumps && !r.jump.empty() && r.jump != nft::guard_chain(family)) {
            continue;
        }
        view.rules.push_back(
            {i + 1, r.text, table.ours() && r.comment == nft::kComment, r.packets, r.bytes});
    }
    return view;
}

std::uint32_t references(const nft::TableModel& table, const std::string& set) {
    std::uint32_t n = 0;
    for (const nft::ChainModel& c : table.chains) {
        n += static_cast<std::uint32_t>(
            std::ranges::count_if(c.rules, [&](const nft::RuleModel& r) { return r.set == set; }));
    }
    return n;
}

// The family's jumps, its guard chain and every set of its family (one per guard).
void add_table(FamilyView& out, const nft::TableModel& table, Family family) {
    out.chains.push_back(chain_view(table, std::string(nft::kInputChain), family, true));
    out.chains.push_back(chain_view(table, std::string(nft::kPreroutingChain), family, true));
    out.chains.push_back(chain_view(table, std::string(nft::kForwardChain), family, true));
    out.chains.push_back(chain_view(table, nft::guard_chain(family), family, false));
    for (const nft::SetModel& set : table.sets) {
        if (set.family != family) {
            continue;
        }
        ViewSet view;
        view.name = set.name;
        view.ours = table.ours() && set.comment == nft::kComment;
        view.usable = (set.flags & NFT_SET_INTERVAL) != 0 &&
                      set.key_type == (family == Family::ipv4 ? 7U : 8U);
        view.members = nft::range_networks(set.ranges).size();
        view.references = references(table, set.name);
        out.sets.push_back(std::move(view));
    }
}

} // namespace

FamilyView view_of(const nft::Snapshot& snap, Family family) {
    FamilyView view;
    view.family = family;
    for (const auto* table : snap.tables()) {
        if (*table) {
            add_table(view, **table, family);
        }
    }
    return view;
}

} // namespace memguard
