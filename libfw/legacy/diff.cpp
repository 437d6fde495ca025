#include "diff.hpp"

#include "network_index.hpp"
#include "ownership.hpp"

#include <algorithm>
#include <iterator>

namespace memguard {

namespace {

std::string spec(const KernelRule& k) {
    if (k.rule) {
        return to_string(*k.rule);
    }
    if (k.ours()) { // our comment on a rule we would never write: somebody edited it
        return "(an edited rule of memguardd's, -j " + k.target + ")";
    }
    return "(a rule memguardd does not write, -j " + k.target + ")";
}

bool same(const KernelRule& k, const Rule& r) {
    return k.rule && *k.rule == r;
}

void compare_chain(Family family, const std::string& label, const std::vector<Rule>& want,
                   bool exists, const std::vector<KernelRule>& have, std::vector<ChainDrift>& drift,
                   ChainEdit& edit) {
    if (!exists) {
        drift.push_back({family, DriftKind::chain_missing, label, 0,
                         std::to_string(want.size()) + " rules", ""});
        edit.create_chain = true;
        edit.insert = want;
        return;
    }
    // Common head and tail stay untouched (with their counters); only the middle is rewritten.
    std::size_t head = 0;
    while (head < want.size() && head < have.size() && same(have[head], want[head])) {
        ++head;
    }
    std::size_t tail = 0;
    while (tail < want.size() - head && tail < have.size() - head &&
           same(have[have.size() - 1 - tail], want[want.size() - 1 - tail])) {
        ++tail;
    }
    const std::size_t have_mid = have.size() - head - tail;
    const std::size_t want_mid = want.size() - head - tail;
    for (std::size_t i = 0; i < std::max(have_mid, want_mid); ++i) {
        const std::size_t pos = head + i;
        ChainDrift d{family, DriftKind::rule_changed, label, pos + 1, "", ""};
        if (i < want_mid) {
            d.expected = to_string(want[pos]);
        }
        if (i < have_mid) {
            d.actual = spec(have[pos]);
        }
        if (i >= have_mid) {
            d.kind = DriftKind::rule_missing;
        } else if (i >= want_mid) {
            d.kind = have[pos].ours() ? DriftKind::rule_stale : DriftKind::rule_extra;
        }
        drift.push_back(std::move(d));
    }
    if (have_mid > 0 || want_mid > 0) {
        edit.erase_from = head;
        edit.erase_count = have_mid;
        edit.insert.assign(want.begin() + static_cast<std::ptrdiff_t>(head),
                           want.begin() + static_cast<std::ptrdiff_t>(head + want_mid));
    }
}

// Whether `above` can take packets that `jump` would get: it asks for no protocol or the same,
// and no port or the same. A rule we cannot read may match anything.
bool can_take_packets_of(const KernelRule& above, const Rule& jump) {
    if (!above.rule) {
        return true;
    }
    const Rule& r = *above.rule;
    const bool proto_overlaps = !r.proto || !jump.proto || *r.proto == *jump.proto;
    // A rule that asks for a port before the DNAT and one that asks for it after are taken to
    // overlap: either may see the other's packets.
    const auto port = [](const Rule& x) { return x.dport ? x.dport : x.dnat_port; };
    const bool port_overlaps = !port(r) || !port(jump) || *port(r) == *port(jump);
    return proto_overlaps && port_overlaps;
}

// The first rule of somebody else's above position `found` of INPUT that can take `want`'s
// packets, or `found` when there is none.
std::size_t first_shadowing(const std::vector<KernelRule>& input, std::size_t found,
                            const Rule& want) {
    for (std::size_t j = 0; j < found; ++j) {
        if (!input[j].ours() && can_take_packets_of(input[j], want)) {
            return j;
        }
    }
    return found;
}

// The fast path of a verify pass: our rules are the first rules of the chain, in order, and
// no other rule of ours follows.
bool in_place(const std::vector<Rule>& want, const std::vector<KernelRule>& have) {
    if (have.size() < want.size()) {
        return false;
    }
    for (std::size_t i = 0; i < have.size(); ++i) {
        const bool fits = i < want.size() ? same(have[i], want[i]) : !have[i].ours();
        if (!fits) {
            return false;
        }
    }
    return true;
}

// A built-in chain (INPUT, mangle FORWARD, mangle PREROUTING) whose top rules are ours. On any
// drift, every rule of ours in it goes (`deletes`, descending) and `want` goes to the top (`top`).
void compare_hook(Family family, const std::string& label, const std::vector<Rule>& want,
                  const std::vector<KernelRule>& have, std::vector<ChainDrift>& drift,
                  std::vector<std::size_t>& deletes, std::vector<Rule>& top) {
    if (in_place(want, have)) {
        return;
    }
    const std::size_t drift_before = drift.size();
    std::vector<bool> matched(have.size(), false);
    std::size_t lowest_allowed = 0; // our rules must keep their relative order
    for (std::size_t i = 0; i < want.size(); ++i) {
        std::size_t found = have.size();
        for (std::size_t j = 0; j < have.size(); ++j) {
            if (!matched[j] && same(have[j], want[i])) {
                found = j;
                break;
            }
        }
        if (found == have.size()) {
            drift.push_back(
                {family, DriftKind::jump_missing, label, i + 1, to_string(want[i]), ""});
            continue;
        }
        matched[found] = true;
        if (const auto above = first_shadowing(have, found, want[i]); above != found) {
            drift.push_back({family, DriftKind::jump_shadowed, label, found + 1, to_string(want[i]),
                             "below rule " + std::to_string(above + 1) + ": " + spec(have[above])});
        } else if (found < lowest_allowed) {
            drift.push_back({family, DriftKind::jump_misplaced, label, found + 1,
                             to_string(want[i]),
                             "above rule " + std::to_string(lowest_allowed + 1) +
                                 ", a jump that must come before it"});
        }
        lowest_allowed = std::max(lowest_allowed, found);
    }
    for (std::size_t j = 0; j < have.size(); ++j) {
        if (have[j].ours() && !matched[j]) {
            drift.push_back({family, DriftKind::jump_stale, label, j + 1, "", spec(have[j])});
        }
    }
    if (drift.size() == drift_before) {
        return; // below rules of others that cannot take their packets, in order: in place
    }
    for (std::size_t j = have.size(); j-- > 0;) {
        if (have[j].ours()) {
            deletes.push_back(j);
        }
    }
    top = want;
}

// The sources one rule accepts by address: its -s network, or the members of our set when it
// matches on it. `everybody` is set by an accept rule that asks for no source at all.
using Members = std::map<std::string, std::vector<Network>>;

void accepted_sources(const Rule& r, const Members& set_members, std::vector<Network>& out,
                      bool& everybody) {
    if (r.verdict != Verdict::accept || !r.in_iface.empty() || r.related_established) {
        return;
    }
    if (r.src) {
        out.push_back(*r.src);
    } else if (!r.src_set.empty()) {
        if (const auto it = set_members.find(r.src_set); it != set_members.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
        }
    } else {
        everybody = true;
    }
}

// Runs only when the chain or the set changes. A network still listed is found by binary
// search; one no longer listed may still be covered by a wider one, which the index answers
// per prefix length: n log n for any two lists, not n².
std::vector<Network> no_longer_allowed(const Ruleset& desired, const KernelView& actual) {
    std::vector<Network> allowed;
    bool everybody = false;
    for (const auto& r : desired.chain) {
        accepted_sources(r, desired.sets, allowed, everybody);
    }
    std::vector<Network> revoked;
    if (everybody) {
        return revoked;
    }
    std::vector<Network> accepted;
    bool had_everybody = false; // whatever the chain had, only what it no longer has counts
    Members had_members;
    for (const auto& [name, set] : actual.sets) {
        if (set.members_readable) {
            had_members.emplace(name, set.members);
        }
    }
    for (const auto& k : actual.chain) {
        if (k.rule) {
            accepted_sources(*k.rule, had_members, accepted, had_everybody);
        }
    }
    std::ranges::sort(allowed);
    const NetworkIndex wider(allowed);
    for (const auto& src : accepted) {
        const bool still = std::ranges::binary_search(allowed, src) || wider.contains(src);
        if (!still) {
            revoked.push_back(src);
        }
    }
    std::ranges::sort(revoked);
    revoked.erase(std::unique(revoked.begin(), revoked.end()), revoked.end());
    return revoked;
}

// "3 missing, 1 not in the allowlist" for two sorted member lists.
std::string member_difference(const std::vector<Network>& want, const std::vector<Network>& have) {
    std::vector<Network> missing;
    std::vector<Network> extra;
    std::ranges::set_difference(want, have, std::back_inserter(missing));
    std::ranges::set_difference(have, want, std::back_inserter(extra));
    std::string out = std::to_string(missing.size()) + " missing" +
                      (missing.empty() ? "" : " (" + missing.front().to_string() + "…)");
    out += ", " + std::to_string(extra.size()) + " not in the allowlist" +
           (extra.empty() ? "" : " (" + extra.front().to_string() + "…)");
    return out;
}

void compare_one_set(Family family, const std::string& name, const std::vector<Network>& want,
                     const std::optional<SetState>& have, Comparison& out) {
    if (have && have->usable && have->members_readable && have->members == want) {
        return;
    }
    const std::string found = !have                     ? "missing"
                              : !have->usable           ? "not a hash:net set of this family"
                              : !have->members_readable ? "holds ranges or nomatch entries"
                                                        : member_difference(want, have->members);
    out.drift.push_back({family, DriftKind::set_members, name, 0,
                         std::to_string(want.size()) + " networks", found});
    out.plan.load_sets.emplace(name, want);
}

void compare_set(const Ruleset& desired, const KernelView& actual, Comparison& out) {
    for (const auto& [name, want] : desired.sets) {
        const auto have = actual.sets.find(name);
        compare_one_set(desired.family, name, want,
                        have != actual.sets.end() ? std::optional(have->second) : std::nullopt,
                        out);
    }
    const Claims claims = claim(actual);
    for (const auto& [name, have] : actual.sets) {
        // Stale once our rule stops matching on it; a set somebody else's rule uses stays.
        if (!desired.sets.contains(name) && have.references <= our_set_rules(actual, name) &&
            claims.set_usable(name)) {
            out.drift.push_back({desired.family, DriftKind::set_stale, name, 0, "", "stale"});
            out.plan.drop_sets.push_back(name);
        }
    }
}

} // namespace

std::string_view to_string(DriftKind kind) {
    switch (kind) {
    case DriftKind::chain_missing:
        return "chain_missing";
    case DriftKind::rule_changed:
        return "rule_changed";
    case DriftKind::rule_missing:
        return "rule_missing";
    case DriftKind::rule_extra:
        return "rule_extra";
    case DriftKind::rule_stale:
        return "rule_stale";
    case DriftKind::jump_missing:
        return "jump_missing";
    case DriftKind::jump_shadowed:
        return "jump_shadowed";
    case DriftKind::jump_misplaced:
        return "jump_misplaced";
    case DriftKind::jump_stale:
        return "jump_stale";
    case DriftKind::set_members:
        return "set_members";
    case DriftKind::set_stale:
        return "set_stale";
    }
    return "unknown";
}

std::string ChainDrift::describe() const {
    std::string out = std::string(to_string(family)) + " " + chain;
    if (kind == DriftKind::chain_missing) {
        return out + ": chain missing";
    }
    if (kind == DriftKind::set_members) {
        return std::string(to_string(family)) + " ipset " + chain + ": want " + expected +
               ", found " + actual;
    }
    if (kind == DriftKind::set_stale) {
        return std::string(to_string(family)) + " ipset " + chain +
               ": stale (the allowlist no longer needs it)";
    }
    out += " rule " + std::to_string(position) + ": ";
    switch (kind) {
    case DriftKind::rule_changed:
        return out + "changed: want \"" + expected + "\", found \"" + actual + "\"";
    case DriftKind::rule_missing:
    case DriftKind::jump_missing:
        return out + "missing: \"" + expected + "\"";
    case DriftKind::rule_extra:
        return out + "unexpected rule in " + chain + ": \"" + actual + "\"";
    case DriftKind::rule_stale:
        return out + "stale rule of ours: \"" + actual + "\"";
    case DriftKind::jump_shadowed:
    case DriftKind::jump_misplaced:
        return out + "\"" + expected + "\" is " + actual;
    case DriftKind::jump_stale:
        return out + "stale: \"" + actual + "\"";
    default:
        return out;
    }
}

namespace {

void compare_filter(const Ruleset& desired, const KernelView& actual, Comparison& out) {
    if (desired.use_chain) { // else somebody else's chain: not ours to compare or repair
        compare_chain(desired.family, std::string(chain_name), desired.chain, actual.chain_exists,
                      actual.chain, out.drift, out.plan);
    }
    compare_hook(desired.family, std::string(input_chain), desired.jumps, actual.input, out.drift,
                 out.plan.input_deletes, out.plan.jumps);
}

void compare_mangle(const Ruleset& desired, const MangleView& actual, Comparison& out) {
    const MangleRuleset& want = desired.mangle;
    ManglePlan& plan = out.plan.mangle;
    const Family family = desired.family;
    if (want.use_chain) {
        compare_chain(family, "mangle " + std::string(chain_name), want.chain, actual.chain_exists,
                      actual.chain, out.drift, plan);
    }
    compare_hook(family, "mangle " + std::string(forward_chain), want.jumps, actual.forward,
                 out.drift, plan.forward_deletes, plan.forward);
    compare_hook(family, "mangle " + std::string(prerouting_chain), want.prerouting,
                 actual.prerouting, out.drift, plan.prerouting_deletes, plan.prerouting);
}

} // namespace

Comparison compare(const Ruleset& desired, const KernelView& actual) {
    Comparison out;
    compare_filter(desired, actual, out);
    if (actual.mangle) {
        compare_mangle(desired, *actual.mangle, out);
    }
    compare_set(desired, actual, out);
    // Only rules taken out of our chain, or members out of our set, can revoke anybody.
    if (out.plan.erase_count > 0 || out.plan.mangle.erase_count > 0 ||
        !out.plan.load_sets.empty() || !out.plan.drop_sets.empty()) {
        out.revoked = no_longer_allowed(desired, actual);
    }
    return out;
}

} // namespace memguard
