// Desired rules vs the kernel's: what drifted, and the smallest plan that repairs it.
#pragma once

#include "kernel_view.hpp"
#include "ruleset.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace memguard {

// "MEMGUARD" stands for either table's chain, "INPUT" for any built-in chain we put rules at the
// top of (INPUT, mangle FORWARD, mangle PREROUTING); ChainDrift::chain says which.
enum class DriftKind : std::uint8_t {
    chain_missing,  // MEMGUARD does not exist
    rule_changed,   // a rule in MEMGUARD differs from ours at the same place
    rule_missing,   // one of our rules is not in MEMGUARD
    rule_extra,     // MEMGUARD holds a rule we did not put there (not ours)
    rule_stale,     // MEMGUARD holds a rule of ours the policy no longer asks for
    jump_missing,   // a jump to MEMGUARD is not in INPUT
    jump_shadowed,  // our jump is in INPUT, below somebody else's rule that can take its packets
    jump_misplaced, // our jumps are at the top of INPUT, but not in our order
    jump_stale,     // INPUT holds a rule of ours the policy no longer asks for
    set_members,    // our ipset is missing, of the wrong type, or holds other members
    set_stale,      // our ipset exists, but the policy no longer asks for it
};

std::string_view to_string(DriftKind kind);

struct ChainDrift {
    Family family = Family::ipv4;
    DriftKind kind = DriftKind::chain_missing;
    // MEMGUARD or INPUT, "mangle MEMGUARD", "mangle FORWARD", "mangle PREROUTING", or the
    // ipset's name
    std::string chain;
    std::size_t position; // 1-based rule number in `chain`, as iptables -L --line-numbers shows
    // rule-spec we want there (empty for extra/stale); for a missing chain or a set to load,
    // how much we want there ("4 rules", "20 networks")
    std::string expected;
    std::string actual; // rule-spec found there (empty for missing)

    // One line for a person, e.g. "ipv4 MEMGUARD rule 3 changed: want ..., found ...".
    [[nodiscard]] std::string describe() const;
};

// One table's MEMGUARD: create it, then delete rules [erase_from, erase_from + erase_count), then
// insert `insert` at erase_from (1 rule per position, in order). Positions are 0-based.
struct ChainEdit {
    bool create_chain = false;
    std::size_t erase_from = 0;
    std::size_t erase_count = 0;
    std::vector<Rule> insert;

    [[nodiscard]] bool chain_untouched() const {
        return !create_chain && erase_count == 0 && insert.empty();
    }
};

// Edits to the mangle table, in the same order as Plan's to filter: MEMGUARD, then FORWARD's
// and PREROUTING's rules of ours deleted (0-based, descending) and the wanted ones put at the top.
struct ManglePlan : ChainEdit {
    std::vector<std::size_t> forward_deletes;
    std::vector<Rule> forward;
    std::vector<std::size_t> prerouting_deletes;
    std::vector<Rule> prerouting;
    bool delete_chain = false;

    [[nodiscard]] bool empty() const {
        return chain_untouched() && forward_deletes.empty() && forward.empty() &&
               prerouting_deletes.empty() && prerouting.empty() && !delete_chain;
    }
};

// Edits for one libiptc transaction per table (filter, then mangle), applied in this order to one
// snapshot of the table, with our ipset loaded before the commit (so the rules never match on a set
// that is not there) and destroyed after it (once no rule of ours matches on it).
struct Plan : ChainEdit {
    // INPUT: delete these 0-based positions (descending), then insert `jumps` at the top.
    std::vector<std::size_t> input_deletes;
    std::vector<Rule> jumps;
    bool delete_chain = false; // after the above; only for removal
    // Our sets (by name) that are to hold exactly these members
    std::map<std::string, std::vector<Network>> load_sets;
    std::vector<std::string> drop_sets; // our sets that are to go
    ManglePlan mangle;

    // Nothing to do in the filter table.
    [[nodiscard]] bool table_empty() const {
        return chain_untouched() && input_deletes.empty() && jumps.empty() && !delete_chain;
    }
    [[nodiscard]] bool tables_empty() const { return table_empty() && mangle.empty(); }
    [[nodiscard]] bool empty() const {
        return tables_empty() && load_sets.empty() && drop_sets.empty();
    }
};

struct Comparison {
    std::vector<ChainDrift> drift;
    Plan plan;
    // Sources our chain accepted that the desired chain does not: their open connections are to
    // be cut (conntrack), or the RELATED,ESTABLISHED rule would keep them in.
    std::vector<Network> revoked;
};

Comparison compare(const Ruleset& desired, const KernelView& actual);

// Takes out exactly what is ours (ownership.hpp): our rules in INPUT and in mangle's FORWARD and
// PREROUTING, both MEMGUARD chains and our ipsets; a chain or set under our names that is not
// ours stays.
Plan removal_plan(const KernelView& actual);

} // namespace memguard
