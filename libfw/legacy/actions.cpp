#include "actions.hpp"

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

std::string describe_actions(const std::vector<ChainDrift>& drift) {
    std::vector<std::string> phrases;
    std::size_t to_chain = 0;
    std::size_t to_input = 0;
    std::vector<std::string> others;
    for (const auto& d : drift) {
        if (d.kind == DriftKind::chain_missing) {
            phrases.push_back(action(d));
        } else if (d.kind == DriftKind::rule_missing) {
            ++to_chain;
        } else if (d.kind == DriftKind::jump_missing) {
            ++to_input;
        } else {
            others.push_back(action(d));
        }
    }
    if (to_chain > 0) {
        phrases.push_back("added " + rules(to_chain) + " to " + std::string(chain_name));
    }
    if (to_input > 0) {
        phrases.push_back("added " + rules(to_input) + " to " + std::string(input_chain));
    }
    phrases.insert(phrases.end(), others.begin(), others.end());
    std::string out;
    for (const auto& p : phrases) {
        out += (out.empty() ? "" : ", ") + p;
    }
    return out.empty() ? "applied" : out;
}

} // namespace memguard
