// `memguardd explain`'s look at our nftables table: the elements of our allow sets (interval
// sets, one per guard) whose range holds the address, and the loopback rule for a loopback
// address. What is ours is decided as everywhere in this backend (TableModel::ours()).
#include "nft_backend.hpp"
#include "render.hpp"
#include "rules.hpp"

#include <algorithm>

namespace memguard {

namespace {

bool holds(const nft::Range& range, const Network& address) {
    return range.family == address.family && range.first <= address.addr &&
           address.addr <= range.last;
}

// "allow4" → "", "allow4-pages" → "pages": the guard a set is named for.
std::string guard_of_set(const std::string& set, Family family) {
    const std::string base = nft::allow_set(family);
    return set.size() > base.size() + 1 ? set.substr(base.size() + 1) : std::string();
}

bool is_allow_set(const nft::SetModel& set, Family family) {
    const std::string base = nft::allow_set(family);
    return set.family == family && (set.name == base || set.name.starts_with(base + "-"));
}

// "10.1.0.0/16", or the networks a merged range is made of: "10.1.0.0/16, 10.2.0.0/15".
std::string range_text(const nft::Range& range) {
    std::string out;
    for (const auto& n : nft::range_networks(range)) {
        out += (out.empty() ? "" : ", ") + n.to_string();
    }
    return out;
}

void add_sets(const nft::TableModel& table, const Network& address, KernelExplain& out) {
    for (const nft::SetModel& set : table.sets) {
        if (!is_allow_set(set, address.family)) {
            continue;
        }
        const std::string where = "inet " + table.name + " " + set.name;
        out.looked_in.push_back(where);
        for (const nft::Range& range : set.ranges) {
            if (!holds(range, address)) {
                continue;
            }
            KernelMatch m;
            m.family = address.family;
            m.guard = guard_of_set(set.name, address.family);
            m.where = where;
            m.element = range_text(range);
            if (const auto label = set.labels.find(range.first); label != set.labels.end()) {
                m.label = label->second;
            }
            out.matches.push_back(std::move(m));
        }
    }
}

void add_loopback(const nft::TableModel& table, const Network& address, KernelExplain& out) {
    const nft::ChainModel* chain = table.chain(nft::guard_chain(address.family));
    if (chain == nullptr || !address.is_loopback()) {
        return;
    }
    const std::string key =
        nft::render_rule(nft::loopback_rule(table.name, address.family).get()).key;
    for (const nft::RuleModel& r : chain->rules) {
        if (r.key == key) {
            KernelMatch m;
            m.family = address.family;
            m.where = "inet " + table.name + " " + chain->name;
            m.element = r.text;
            m.loopback = true;
            out.matches.push_back(std::move(m));
        }
    }
}

} // namespace

KernelExplain NftBackend::explain(const Network& address) {
    const nft::Snapshot snap = keeper_.read();
    KernelExplain out;
    if (!snap.main || !snap.main->ours()) {
        return out;
    }
    add_loopback(*snap.main, address, out);
    add_sets(*snap.main, address, out);
    return out;
}

} // namespace memguard
