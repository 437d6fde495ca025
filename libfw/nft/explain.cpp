// `memguardd explain`'s look at our nftables table: the elements of our allow sets (interval
// sets, one per guard) whose range holds the address, and the loopback rule for a loopback
// address; and other tables' rules that drop or reject packets to a port, read with the strict
// reader doctor uses (foreign_rules.hpp). What is ours is decided as everywhere in this backend
// (TableModel::ours()).
#include "foreign_rules.hpp"
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

// Whether a rule of a table of `family` ("ip", "ip6", "inet"; no other sees IP packets of an
// address at input) can judge packets from `address`.
bool sees(const nft::NftRule& rule, Family family) {
    if (rule.nfproto) {
        return *rule.nfproto == family;
    }
    return rule.family == "inet" || rule.family == (family == Family::ipv4 ? "ip" : "ip6");
}

// Other tables' drops and rejects that name a destination port: a drop is final in nftables,
// whichever table and priority it is in. Their source and hook are not read: they may match.
void add_foreign_drops(const std::vector<std::string>& ours, const Network& address,
                       KernelExplain& out) {
    for (const auto& rule : nft::nft_rules()) {
        const bool our_table = rule.family == "inet" && std::ranges::count(ours, rule.table) > 0;
        if (!rule.drops || !rule.dport || our_table || !sees(rule, address.family)) {
            continue;
        }
        RuleAhead a;
        a.family = address.family;
        a.where = "nft table " + rule.family + " " + rule.table + ", chain " + rule.chain;
        a.protocol = rule.l4proto ? netlink::protocol_of(*rule.l4proto) : std::nullopt;
        a.ports = rule.dport;
        a.text = "drops " + (a.protocol ? std::string(to_string(*a.protocol)) + " " : "") +
                 "dport " + rule.dport->to_string();
        out.ahead.push_back(std::move(a));
    }
}

} // namespace

KernelExplain NftBackend::explain(const Network& address) {
    const nft::Snapshot snap = keeper_.read();
    KernelExplain out;
    std::vector<std::string> ours;
    for (const auto* table : snap.tables()) {
        if (*table && (*table)->ours()) {
            ours.push_back((*table)->name);
        }
    }
    add_foreign_drops(ours, address, out);
    if (!snap.main || !snap.main->ours()) {
        return out;
    }
    add_loopback(*snap.main, address, out);
    add_sets(*snap.main, address, out);
    return out;
}

} // namespace memguard
