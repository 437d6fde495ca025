#include "actions.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

namespace memguard {

namespace {

std::string rules(std::size_t n) {
    return std::to_string(n) + (n == 1 ? " rule" : " rules");
}

std::string rule_of(const ChainDrift& d) {
    return "rule " + std::to_string(d.position) + " of " + d.chain;
}

// The phrase for one difference; empty for a missing rule, which describe_actions counts.
std::string action(const ChainDrift& d) {
    switch (d.kind) {
    case DriftKind::chain_missing:
        return "created chain " + d.chain + " with " + d.expected;
    case DriftKind::rule_missing:
    case DriftKind::jump_missing:
        return "";
    case DriftKind::rule_changed:
        return "replaced " + rule_of(d) + " (was \"" + d.actual + "\")";
    case DriftKind::rule_extra:
        return "deleted unexpected " + rule_of(d) + " (\"" + d.actual + "\")";
    case DriftKind::rule_stale:
    case DriftKind::jump_stale:
        return "deleted stale " + rule_of(d) + " (\"" + d.actual + "\")";
    case DriftKind::jump_shadowed:
    case DriftKind::jump_misplaced:
        return "moved " + rule_of(d) + " to the top (it was " + d.actual + ")";
    case DriftKind::set_members:
        if (d.actual == "missing") {
            return "created ipset " + d.chain + " with " + d.expected;
        }
        return "reloaded ipset " + d.chain + " with " + d.expected + " (found: " + d.actual + ")";
    case DriftKind::set_stale:
        return "destroyed ipset " + d.chain + " (the allowlist no longer needs it)";
    }
    return "";
}

} // namespace

namespace {

enum class Part : std::uint8_t { filter, mangle, set };

Part part_of(const ChainDrift& d) {
    if (d.kind == DriftKind::set_members || d.kind == DriftKind::set_stale) {
        return Part::set;
    }
    return d.chain.starts_with("mangle ") ? Part::mangle : Part::filter;
}

// One part's phrases: chains created, then rules added per chain (in the order the chains
// first come up), then everything else.
void table_phrases(const std::vector<ChainDrift>& drift, Part part,
                   std::vector<std::string>& phrases) {
    std::vector<std::pair<std::string, std::size_t>> added; // chain → rules added to it
    std::vector<std::string> others;
    for (const auto& d : drift) {
        if (part_of(d) != part) {
            continue;
        }
        if (d.kind == DriftKind::chain_missing) {
            phrases.push_back(action(d));
        } else if (d.kind == DriftKind::rule_missing || d.kind == DriftKind::jump_missing) {
            auto it =
                std::ranges::find(added, d.chain, &std::pair<std::string, std::size_t>::first);
            if (it == added.end()) {
                added.emplace_back(d.chain, 0);
                it = std::prev(added.end());
            }
            ++it->second;
        } else {
            others.push_back(action(d));
        }
    }
    // The chain's rules before the built-in chains' (as before there was a mangle part).
    // (std::, not std::ranges::: clang-tidy's clang cannot instantiate the latter with GCC 12's
    // library)
    std::stable_partition(added.begin(), added.end(),
                          [](const auto& a) { return a.first.ends_with("MEMGUARD"); });
    for (const auto& [chain, n] : added) {
        phrases.push_back("added " + rules(n) + " to " + chain);
    }
    phrases.insert(phrases.end(), others.begin(), others.end());
}

} // namespace

std::string describe_actions(const std::vector<ChainDrift>& drift) {
    // The filter table's first, then the mangle table's (the order they are committed in),
    // then the set's.
    std::vector<std::string> phrases;
    for (const auto part : {Part::filter, Part::mangle, Part::set}) {
        table_phrases(drift, part, phrases);
    }
    std::string out;
    for (const auto& p : phrases) {
        out += (out.empty() ? "" : ", ") + p;
    }
    return out.empty() ? "applied" : out;
}

} // namespace memguard
