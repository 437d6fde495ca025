#include "compare.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

namespace memguard::nft {

namespace {

std::optional<Family> family_of_chain(std::string_view chain) {
    if (chain == "guard4") {
        return Family::ipv4;
    }
    if (chain == "guard6") {
        return Family::ipv6;
    }
    return std::nullopt;
}

std::optional<Family> family_of_rule(const RuleModel& r) {
    if (auto f = family_of_chain(r.chain)) {
        return f;
    }
    if (auto f = family_of_chain(r.jump)) {
        return f;
    }
    if (r.text.find("nfproto ipv4") != std::string::npos) {
        return Family::ipv4;
    }
    if (r.text.find("nfproto ipv6") != std::string::npos) {
        return Family::ipv6;
    }
    return std::nullopt;
}

std::string hex32(std::uint32_t v) {
    std::array<char, 16> buf{};
    std::snprintf(buf.data(), buf.size(), "0x%x", v);
    return buf.data();
}

// An owned table is in order whoever holds it: `status` and `diff` run in processes of their own,
// and a table held by another live socket cannot be taken anyway (the kernel says EPERM). What is
// drift is a table nobody holds: an orphan (PERSIST, its owner gone) or one made unowned.
void compare_table_head(const TableModel& wanted, const TableModel& found, const Ownership& own,
                        std::vector<Drift>& out) {
    const std::string where = "inet " + wanted.name;
    const bool owned = (found.flags & kTableFlagOwner) != 0;
    const bool persist = (found.flags & kTableFlagPersist) != 0;
    if (own.owned && !owned) {
        out.push_back({std::nullopt, persist ? "table_orphaned" : "table_unowned", wanted.name,
                       "table " + where +
                           (persist ? " is orphaned (its owner is gone)" : " is unowned") +
                           ", so anybody may change it (flags " + hex32(found.flags) + ")"});
    } else if (!own.owned && owned) {
        out.push_back(
            {std::nullopt, "table_owner", wanted.name,
             "table " + where + " is owned (flags " + hex32(found.flags) + "), wanted unowned"});
    }
}

void compare_rules(const ChainModel& want, const ChainModel& found, std::vector<Drift>& out) {
    std::map<std::string, int> balance; // key → wanted count − found count
    for (const RuleModel& r : want.rules) {
        ++balance[r.key];
    }
    for (const RuleModel& r : found.rules) {
        --balance[r.key];
    }
    bool differ = false;
    for (const RuleModel& r : want.rules) {
        if (balance[r.key] > 0) {
            --balance[r.key];
            differ = true;
            out.push_back({family_of_rule(r), "rule_missing", want.name,
                           "chain " + want.name + " lacks rule: " + r.text});
        }
    }
    std::size_t position = 0;
    for (const RuleModel& r : found.rules) {
        ++position;
        if (balance[r.key] < 0) {
            ++balance[r.key];
            differ = true;
            out.push_back({family_of_rule(r), "rule_extra", want.name,
                           "chain " + want.name + " rule " + std::to_string(position) +
                               " is not ours: " + r.text});
        }
    }
    const auto same_key = [](const RuleModel& a, const RuleModel& b) { return a.key == b.key; };
    if (!differ && !std::equal(want.rules.begin(), want.rules.end(), found.rules.begin(),
                               found.rules.end(), same_key)) {
        out.push_back({family_of_chain(want.name), "rule_order", want.name,
                       "chain " + want.name + " has our rules in another order"});
    }
}

void compare_chain(const ChainModel& want, const ChainModel* found, std::vector<Drift>& out) {
    const auto family = family_of_chain(want.name);
    if (found == nullptr) {
        out.push_back({family, "chain_missing", want.name, "chain " + want.name + " is missing"});
        return;
    }
    if (found->type != want.type || found->hook != want.hook || found->priority != want.priority ||
        found->policy != want.policy || found->comment != want.comment) {
        out.push_back(
            {family, "chain_changed", want.name,
             "chain " + want.name + " has another type, hook, priority, policy or comment"});
    }
    compare_rules(want, *found, out);
}

void compare_members(const SetModel& want, const SetModel& found, std::vector<Drift>& out) {
    if (found.ranges == want.ranges) {
        return;
    }
    const auto missing = range_networks(subtract(want.ranges, found.ranges));
    const auto extra = range_networks(subtract(found.ranges, want.ranges));
    std::vector<std::string> parts;
    if (!missing.empty()) {
        parts.push_back(std::to_string(missing.size()) + " missing (" + list_networks(missing) +
                        ")");
    }
    if (!extra.empty()) {
        parts.push_back(std::to_string(extra.size()) + " extra (" + list_networks(extra) + ")");
    }
    std::string text(to_string(want.family));
    text.append(" set ").append(want.name).append(":");
    for (std::size_t i = 0; i < parts.size(); ++i) {
        text.append(i == 0 ? " " : ", ").append(parts[i]);
    }
    out.push_back({want.family, "set_members", want.name, text});
}

// The network (or networks) of the range in `ranges` that starts at `first`.
std::string range_text(const std::vector<Range>& ranges, const Address& first) {
    const auto it = std::ranges::find_if(ranges, [&](const Range& r) { return r.first == first; });
    return it != ranges.end() ? list_networks(range_networks(*it), 2) : std::string("?");
}

// A label changed, missing or extra: the element's comment is drift like its address.
void compare_labels(const SetModel& want, const SetModel& found, std::vector<Drift>& out) {
    if (found.labels == want.labels) {
        return;
    }
    // Three are named, the rest only counted: 100,000 labels can all have drifted.
    constexpr std::size_t kNamed = 3;
    std::vector<std::string> parts;
    std::size_t drifted = 0;
    for (const auto& [first, label] : want.labels) {
        const auto had = found.labels.find(first);
        if ((had == found.labels.end() || had->second != label) && ++drifted <= kNamed) {
            parts.push_back(range_text(want.ranges, first) + " is \"" +
                            (had == found.labels.end() ? "" : had->second) + "\", wanted \"" +
                            label + "\"");
        }
    }
    for (const auto& [first, label] : found.labels) {
        if (!want.labels.contains(first) && ++drifted <= kNamed) {
            parts.push_back(range_text(found.ranges, first) + " is \"" + label +
                            "\", wanted no label");
        }
    }
    std::string text(to_string(want.family));
    text.append(" set ").append(want.name).append(" labels:");
    for (std::size_t i = 0; i < parts.size(); ++i) {
        text.append(i == 0 ? " " : "; ").append(parts[i]);
    }
    text.append(drifted > kNamed ? "; …" : "");
    out.push_back({want.family, "set_labels", want.name, text});
}

void compare_set(const SetModel& want, const SetModel* found, std::vector<Drift>& out) {
    const std::string fam(to_string(want.family));
    if (found == nullptr) {
        out.push_back(
            {want.family, "set_missing", want.name, fam + " set " + want.name + " is missing"});
        return;
    }
    if (found->key_type != want.key_type || found->key_len != want.key_len ||
        found->flags != want.flags || found->comment != want.comment) {
        out.push_back({want.family, "set_changed", want.name,
                       fam + " set " + want.name + " has another type, flags or comment"});
    }
    compare_members(want, *found, out);
    compare_labels(want, *found, out);
}

} // namespace

std::string list_networks(const std::vector<Network>& networks, std::size_t shown) {
    std::string out;
    for (std::size_t i = 0; i < networks.size() && i < shown; ++i) {
        out.append(i == 0 ? "" : ", ").append(networks[i].to_string());
    }
    if (networks.size() > shown) {
        out += ", …";
    }
    return out;
}

std::vector<Drift> compare_tables(const TableModel& wanted, const std::optional<TableModel>& found,
                                  const Ownership& ownership) {
    std::vector<Drift> out;
    const std::string where = "inet " + wanted.name;
    if (!found) {
        out.push_back(
            {std::nullopt, "table_missing", wanted.name, "table " + where + " is missing"});
        return out;
    }
    if (!found->ours()) {
        out.push_back({std::nullopt, "table_not_owned", wanted.name,
                       "table " + where + " is not memguardd's (no memguard marker); left alone"});
        return out;
    }
    compare_table_head(wanted, *found, ownership, out);
    for (const ChainModel& c : wanted.chains) {
        compare_chain(c, found->chain(c.name), out);
    }
    for (const ChainModel& c : found->chains) {
        if (wanted.chain(c.name) == nullptr) {
            out.push_back({family_of_chain(c.name), "chain_extra", c.name,
                           "chain " + c.name + " in " + where + " is not ours"});
        }
    }
    for (const SetModel& s : wanted.sets) {
        compare_set(s, found->set(s.name), out);
    }
    for (const SetModel& s : found->sets) {
        if (wanted.set(s.name) == nullptr) {
            out.push_back({std::nullopt, "set_extra", s.name,
                           "set " + s.name + " in " + where + " is not ours"});
        }
    }
    return out;
}

} // namespace memguard::nft
