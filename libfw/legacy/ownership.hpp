// What memguardd takes as its own. Everything else, under our names or not, is left alone byte
// for byte, and the port is closed by other means (docs/design.md, "Ownership"):
//  - a rule is ours when it carries `-m comment --comment memguard`, or (a labelled network's
//    accept rule) a comment that starts with "memguard: " (is_our_comment);
//  - the chain MEMGUARD is ours when no rule but our own jumps leads to it, and it is empty,
//    holds a rule of ours, or one of our jumps leads to it; chain names are per table, and the
//    mangle table's MEMGUARD is judged the same way, on its own;
//  - an ipset of ours by name (memguard4/memguard6, a guard's memguard4-<guard>/memguard6-<guard>,
//    and their staging names, staging_name) is ours when it carries our mark (created with
//    initval 0x6d656d67), or when it is a hash:net set of the family that only our rules match
//    on (a set made before the mark existed).
#pragma once

#include "kernel_view.hpp"

#include <set>
#include <string>
#include <vector>

namespace memguard {

struct Claims {
    bool chain = true;        // MEMGUARD is absent or ours
    bool mangle_chain = true; // mangle's MEMGUARD is absent or ours (by the same rules)
    // The set names (set_name) under which somebody else's set stands: not used, the guard's
    // networks get one rule each instead.
    std::set<std::string> foreign_sets;
    [[nodiscard]] bool set_usable(const std::string& name) const {
        return !foreign_sets.contains(name);
    }
    // One line per object under our names that is not ours, with what to do about it.
    std::vector<std::string> refused;
};

// Each set in `view.sets` is judged; a set not read is taken to be free.
Claims claim(const KernelView& view);

// How many rules of ours in MEMGUARD, filter's and mangle's, match on the set `name`.
std::size_t our_set_rules(const KernelView& view, const std::string& name);

// The names of the sets rules of ours in either MEMGUARD match on, sorted, each once.
std::vector<std::string> sets_matched(const KernelView& view);

// How many rules of ours in INPUT jump to MEMGUARD.
std::size_t our_jumps(const KernelView& view);

// How many rules of ours in mangle FORWARD jump to mangle's MEMGUARD.
std::size_t our_mangle_jumps(const KernelView& view);

// Whether the family's port is guarded at all: INPUT holds a rule of ours. A port that is not
// may be written without the xtables lock rather than stay open while another program holds it.
bool guarded(const KernelView& view);

} // namespace memguard
