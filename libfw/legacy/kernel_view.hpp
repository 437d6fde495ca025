// What the kernel holds, as far as memguardd cares: our chains, INPUT and mangle's FORWARD and
// PREROUTING, decoded to plain data.
#pragma once

#include "rule.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace memguard {

struct KernelRule {
    std::optional<Rule> rule; // nullopt: a rule we cannot express (not one of ours)
    std::string comment;      // the comment match, if any; is_our_comment marks our rules
    std::string target;       // as libiptc names it: ACCEPT, DROP, a chain, a module
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;

    [[nodiscard]] bool ours() const { return is_our_comment(comment); }
    friend bool operator==(const KernelRule&, const KernelRule&) = default;
};

// One of our ipsets for a family (set_name), as the kernel holds it.
struct SetState {
    bool usable = false;           // a hash:net set of the family: new members can be swapped in
    bool members_readable = false; // every member is a plain network (no range, no nomatch)
    std::uint32_t references = 0;  // rules that match on it, ours and anybody's
    bool marked = false;           // created by memguardd (netlink::owner_initval)
    // A set named like its staging set (allowset.hpp's staging_name: memguard4-new, or a guard's
    // set name + "~") exists and is not marked as ours, so the set cannot be reloaded by
    // swapping a new one in.
    bool staging_foreign = false;
    std::vector<Network> members; // sorted; only when usable and readable
    friend bool operator==(const SetState&, const SetState&) = default;
};

// The mangle table's part: our chain there and the two built-in chains we write at the top of.
struct MangleView {
    bool chain_exists = false;
    std::vector<KernelRule> chain;      // mangle MEMGUARD, in order
    std::vector<KernelRule> forward;    // mangle FORWARD, in order
    std::vector<KernelRule> prerouting; // mangle PREROUTING, in order
    // Rules anywhere in the mangle table whose target is MEMGUARD, our jumps included.
    std::uint32_t chain_references = 0;
    friend bool operator==(const MangleView&, const MangleView&) = default;
};

struct KernelView {
    Family family = Family::ipv4;
    bool chain_exists = false;
    std::vector<KernelRule> chain; // MEMGUARD, in order
    std::vector<KernelRule> input; // INPUT, in order
    // Rules anywhere in the table whose target is MEMGUARD, our jumps included.
    std::uint32_t chain_references = 0;
    // Our sets by name (set_name), read only when the policy wants them or our chains match on
    // them; absent: not read, or no set of that name.
    std::map<std::string, SetState> sets;
    // nullopt: not read, or the kernel has no mangle table for the family (the backend knows
    // which); a view without it is compared for the filter table only.
    std::optional<MangleView> mangle;
    friend bool operator==(const KernelView&, const KernelView&) = default;
};

} // namespace memguard
