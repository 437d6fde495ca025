#include "ownership.hpp"

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

void claim_chain(const KernelView& view, Claims& out) {
    if (!view.chain_exists) {
        return;
    }
    const std::size_t jumps = our_jumps(view);
    const std::string what =
        std::string(to_string(view.family)) + " chain " + std::string(chain_name);
    if (view.chain_references > jumps) {
        out.chain = false;
        refuse(out, what,
               std::to_string(view.chain_references - jumps) +
                   " rule(s) memguardd did not write jump to it: " + family_tool(view.family) +
                   "-save | grep -- '-j " + std::string(chain_name) + "'",
               "Remove those jumps, or rename the chain.");
        return;
    }
    const bool has_ours = std::ranges::any_of(view.chain, &KernelRule::ours);
    if (view.chain.empty() || has_ours || jumps > 0) {
        return;
    }
    out.chain = false;
    refuse(out, what, "it holds only rules memguardd did not write",
           "Rename it (" + family_tool(view.family) + " -E " + std::string(chain_name) +
               " NEWNAME) or delete it.");
}

void claim_set(const KernelView& view, Claims& out) {
    const std::string name = set_name(view.family);
    const std::string unmarked = "no initval 0x6d656d67";
    if (view.set && view.set->staging_foreign) {
        out.set = false;
        refuse(out, "ipset " + name + "-new", unmarked,
               "Rename or destroy it (ipset list " + name + "-new).");
        return;
    }
    if (!view.set || view.set->marked) {
        return;
    }
    const std::size_t ours = our_set_rules(view);
    if (view.set->usable && ours > 0 && view.set->references == ours) {
        return; // made by a memguardd from before the mark, and used by nobody else
    }
    out.set = false;
    const std::size_t theirs =
        view.set->references - std::min<std::size_t>(ours, view.set->references);
    refuse(out, "ipset " + name,
           unmarked + ", used by " + std::to_string(theirs) + " rule(s) of somebody else",
           "Rename or destroy it (ipset list " + name + ").");
}

} // namespace

std::size_t our_set_rules(const KernelView& view) {
    const std::string name = set_name(view.family);
    return static_cast<std::size_t>(std::ranges::count_if(view.chain, [&](const KernelRule& k) {
        return k.ours() && k.rule && k.rule->src_set == name;
    }));
}

std::size_t our_jumps(const KernelView& view) {
    return static_cast<std::size_t>(std::ranges::count_if(
        view.input, [](const KernelRule& k) { return k.ours() && k.target == chain_name; }));
}

bool guarded(const KernelView& view) {
    return std::ranges::any_of(view.input, &KernelRule::ours);
}

Claims claim(const KernelView& view) {
    Claims out;
    claim_chain(view, out);
    claim_set(view, out);
    return out;
}

} // namespace memguard
