#include "ownership.hpp"

#include "allowset.hpp"
#include "diff.hpp"

#include <algorithm>

namespace memguard {

namespace {

std::string family_tool(Family family) {
    return family == Family::ipv4 ? "iptables-legacy" : "ip6tables-legacy";
}

void refuse(Claims& out, const std::string& what, const std::string& why,
            const std::string& remedy) {
    out.refused.push_back(what + " is not memguardd's (" + why +
                          "): memguardd leaves it alone and does without it. " + remedy);
}

// One table's MEMGUARD, as the kernel holds it.
struct ChainState {
    Family family;
    std::string label; // "chain MEMGUARD", "mangle chain MEMGUARD"
    std::string tool;  // "iptables-legacy", "iptables-legacy -t mangle"
    std::string save;  // "iptables-legacy-save", "iptables-legacy-save -t mangle"
    bool exists;
    const std::vector<KernelRule>& rules;
    std::uint32_t references;
    std::size_t our_jumps;
};

// False (and why in `out`) when the chain exists and is somebody else's.
bool claim_chain(const ChainState& c, Claims& out) {
    if (!c.exists) {
        return true;
    }
    const std::string what = std::string(to_string(c.family)) + " " + c.label;
    if (c.references > c.our_jumps) {
        refuse(out, what,
               std::to_string(c.references - c.our_jumps) +
                   " rule(s) memguardd did not write jump to it: " + c.save + " | grep -- '-j " +
                   std::string(chain_name) + "'",
               "Remove those jumps, or rename the chain.");
        return false;
    }
    const bool has_ours = std::ranges::any_of(c.rules, &KernelRule::ours);
    if (c.rules.empty() || has_ours || c.our_jumps > 0) {
        return true;
    }
    refuse(out, what, "it holds only rules memguardd did not write",
           "Rename it (" + c.tool + " -E " + std::string(chain_name) + " NEWNAME) or delete it.");
    return false;
}

void claim_chains(const KernelView& view, Claims& out) {
    const std::string tool = family_tool(view.family);
    out.chain = claim_chain({view.family, "chain " + std::string(chain_name), tool, tool + "-save",
                             view.chain_exists, view.chain, view.chain_references, our_jumps(view)},
                            out);
    if (view.mangle) {
        const MangleView& m = *view.mangle;
        out.mangle_chain =
            claim_chain({view.family, "mangle chain " + std::string(chain_name),
                         tool + " -t mangle", tool + "-save -t mangle", m.chain_exists, m.chain,
                         m.chain_references, our_mangle_jumps(view)},
                        out);
    }
}

void claim_set(const KernelView& view, const std::string& name, const SetState& set, Claims& out) {
    const std::string unmarked = "no initval 0x6d656d67";
    if (set.staging_foreign) {
        out.foreign_sets.insert(name);
        refuse(out, "ipset " + staging_name(view.family, name), unmarked,
               "Rename or destroy it (ipset list " + staging_name(view.family, name) + ").");
        return;
    }
    if (set.marked) {
        return;
    }
    const std::size_t ours = our_set_rules(view, name);
    if (set.usable && ours > 0 && set.references == ours) {
        return; // made by a memguardd from before the mark, and used by nobody else
    }
    out.foreign_sets.insert(name);
    const std::size_t theirs = set.references - std::min<std::size_t>(ours, set.references);
    refuse(out, "ipset " + name,
           unmarked + ", used by " + std::to_string(theirs) + " rule(s) of somebody else",
           "Rename or destroy it (ipset list " + name + ").");
}

} // namespace

std::size_t our_set_rules(const KernelView& view, const std::string& name) {
    auto count = [&](const std::vector<KernelRule>& rules) {
        return static_cast<std::size_t>(std::ranges::count_if(rules, [&](const KernelRule& k) {
            return k.ours() && k.rule && k.rule->src_set == name;
        }));
    };
    return count(view.chain) + (view.mangle ? count(view.mangle->chain) : 0);
}

std::vector<std::string> sets_matched(const KernelView& view) {
    std::set<std::string> names;
    auto add = [&](const std::vector<KernelRule>& rules) {
        for (const auto& k : rules) {
            if (k.ours() && k.rule && !k.rule->src_set.empty()) {
                names.insert(k.rule->src_set);
            }
        }
    };
    add(view.chain);
    if (view.mangle) {
        add(view.mangle->chain);
    }
    return {names.begin(), names.end()};
}

namespace {

std::size_t jumps_in(const std::vector<KernelRule>& rules) {
    return static_cast<std::size_t>(std::ranges::count_if(
        rules, [](const KernelRule& k) { return k.ours() && k.target == chain_name; }));
}

} // namespace

std::size_t our_jumps(const KernelView& view) {
    return jumps_in(view.input);
}

std::size_t our_mangle_jumps(const KernelView& view) {
    return view.mangle ? jumps_in(view.mangle->forward) : 0;
}

bool guarded(const KernelView& view) {
    return std::ranges::any_of(view.input, &KernelRule::ours);
}

Claims claim(const KernelView& view) {
    Claims out;
    claim_chains(view, out);
    for (const auto& [name, set] : view.sets) {
        claim_set(view, name, set, out);
    }
    return out;
}

// diff.hpp's, here beside the rules it follows.
Plan removal_plan(const KernelView& actual) {
    Plan plan;
    for (std::size_t j = actual.input.size(); j-- > 0;) {
        if (actual.input[j].ours()) {
            plan.input_deletes.push_back(j);
        }
    }
    const Claims claims = claim(actual);
    plan.delete_chain = actual.chain_exists && claims.chain;
    for (const auto& [name, set] : actual.sets) {
        if (claims.set_usable(name)) {
            plan.drop_sets.push_back(name);
        }
    }
    if (actual.mangle) {
        const MangleView& m = *actual.mangle;
        for (std::size_t j = m.forward.size(); j-- > 0;) {
            if (m.forward[j].ours()) {
                plan.mangle.forward_deletes.push_back(j);
            }
        }
        for (std::size_t j = m.prerouting.size(); j-- > 0;) {
            if (m.prerouting[j].ours()) {
                plan.mangle.prerouting_deletes.push_back(j);
            }
        }
        plan.mangle.delete_chain = m.chain_exists && claims.mangle_chain;
    }
    return plan;
}

} // namespace memguard
