// Revocation, per guarded service: a network is revoked when some (protocol, port) that both the
// old and the new table guard accepted it before and no longer does (a network moved from one
// guard to another loses the first guard's ports).
#include "compare.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <utility>

namespace memguard::nft {

namespace {

using Service = std::pair<std::uint8_t, std::uint16_t>; // IPPROTO_*, port

// The (protocol, port)s the input chain's jumps send to `family`'s guard chain.
std::vector<Service> jumped(const TableModel& table, Family family) {
    std::vector<Service> out;
    const ChainModel* input = table.chain(kInputChain);
    for (const RuleModel& r : input != nullptr ? input->rules : std::vector<RuleModel>{}) {
        if (r.jump == guard_chain(family) && r.l4proto && r.dport) {
            out.emplace_back(*r.l4proto, *r.dport);
        }
    }
    std::ranges::sort(out);
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

// The sources our accept rules let in to `service`: the sets of every accept rule that matches
// no service (the only guard's) or this one.
std::vector<Range> accepted(const TableModel& table, Family family, const Service& service) {
    const ChainModel* chain = table.chain(guard_chain(family));
    std::vector<Network> networks;
    for (const RuleModel& r : chain != nullptr ? chain->rules : std::vector<RuleModel>{}) {
        const bool ours = r.accepts && !r.set.empty() && r.comment == kComment;
        const bool applies =
            (!r.l4proto || *r.l4proto == service.first) && (!r.dport || *r.dport == service.second);
        const SetModel* set = ours && applies ? table.set(r.set) : nullptr;
        if (set != nullptr && set->family == family) {
            const auto part = range_networks(set->ranges);
            networks.insert(networks.end(), part.begin(), part.end());
        }
    }
    return merged_ranges(family, networks);
}

} // namespace

std::vector<Network> revoked_networks(const TableModel& wanted,
                                      const std::optional<TableModel>& found, Family family) {
    if (!found || !found->ours()) {
        return {};
    }
    const auto now = jumped(wanted, family);
    std::vector<Network> lost;
    for (const Service& service : jumped(*found, family)) {
        if (std::ranges::find(now, service) == now.end()) {
            continue; // no longer guarded: open to everybody, nobody lost it
        }
        const auto part = range_networks(
            subtract(accepted(*found, family, service), accepted(wanted, family, service)));
        lost.insert(lost.end(), part.begin(), part.end());
    }
    return range_networks(merged_ranges(family, lost));
}

} // namespace memguard::nft
