#include "diff.hpp"

#include <algorithm>

namespace memguard {

namespace {

std::string spec(const KernelRule& k) {
    if (k.rule) {
        return to_string(*k.rule);
    }
    return "(a rule memguardd does not write, -j " + k.target + ")";
}

bool same(const KernelRule& k, const Rule& r) {
    return k.rule && *k.rule == r;
}

void compare_chain(const Ruleset& desired, const KernelView& actual, Comparison& out) {
    const auto& want = desired.chain;
    if (!actual.chain_exists) {
        out.drift.push_back(
            {desired.family, DriftKind::chain_missing, std::string(chain_name), 0, "", ""});
        out.plan.create_chain = true;
        out.plan.insert = want;
        return;
    }
    const auto& have = actual.chain;
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
        Drift d{desired.family, DriftKind::rule_changed, std::string(chain_name), pos + 1, "", ""};
        if (i < want_mid) {
            d.expected = to_string(want[pos]);
        }
        if (i < have_mid) {
            d.actual = spec(have[pos]);
        }
        if (i >= have_mid) {
            d.kind = DriftKind::rule_missing;
        } else if (i >= want_mid) {
            d.kind = DriftKind::rule_extra;
        }
        out.drift.push_back(std::move(d));
    }
    if (have_mid > 0 || want_mid > 0) {
        out.plan.erase_from = head;
        out.plan.erase_count = have_mid;
        out.plan.insert.assign(want.begin() + static_cast<std::ptrdiff_t>(head),
                               want.begin() + static_cast<std::ptrdiff_t>(head + want_mid));
    }
}

bool jumps_in_place(const Ruleset& desired, const KernelView& actual) {
    const auto& want = desired.jumps;
    const auto& have = actual.input;
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

void compare_input(const Ruleset& desired, const KernelView& actual, Comparison& out) {
    if (jumps_in_place(desired, actual)) {
        return;
    }
    const auto& have = actual.input;
    std::vector<bool> matched(have.size(), false);
    const std::string input(input_chain);
    std::size_t lowest_allowed = 0; // our jumps must keep their relative order
    for (std::size_t i = 0; i < desired.jumps.size(); ++i) {
        const auto& want = desired.jumps[i];
        std::size_t found = have.size();
        for (std::size_t j = 0; j < have.size(); ++j) {
            if (!matched[j] && same(have[j], want)) {
                found = j;
                break;
            }
        }
        if (found == have.size()) {
            out.drift.push_back(
                {desired.family, DriftKind::jump_missing, input, i + 1, to_string(want), ""});
            continue;
        }
        matched[found] = true;
        const auto foreign =
            std::find_if(have.begin(), have.begin() + static_cast<std::ptrdiff_t>(found),
                         [](const KernelRule& k) { return !k.ours(); });
        if (foreign != have.begin() + static_cast<std::ptrdiff_t>(found)) {
            const auto above = static_cast<std::size_t>(foreign - have.begin());
            out.drift.push_back(
                {desired.family, DriftKind::jump_shadowed, input, found + 1, to_string(want),
                 "below rule " + std::to_string(above + 1) + ": " + spec(*foreign)});
        } else if (found < lowest_allowed) {
            out.drift.push_back({desired.family, DriftKind::jump_misplaced, input, found + 1,
                                 to_string(want),
                                 "above rule " + std::to_string(lowest_allowed + 1) +
                                     ", a jump that must come before it"});
        }
        lowest_allowed = std::max(lowest_allowed, found);
    }
    for (std::size_t j = 0; j < have.size(); ++j) {
        if (have[j].ours() && !matched[j]) {
            out.drift.push_back(
                {desired.family, DriftKind::jump_stale, input, j + 1, "", spec(have[j])});
        }
    }
    for (std::size_t j = have.size(); j-- > 0;) {
        if (have[j].ours()) {
            out.plan.input_deletes.push_back(j);
        }
    }
    out.plan.jumps = desired.jumps;
}

// Runs only when the chain changes. A network still listed is found by binary search; only
// networks no longer listed are checked against each allowed one (a wider network may now
// cover them), so a 10,000-entry allowlist costs n log n, not n².
std::vector<Network> no_longer_allowed(const Ruleset& desired, const KernelView& actual) {
    std::vector<Network> allowed;
    bool everybody = false;
    for (const auto& r : desired.chain) {
        if (r.verdict == Verdict::accept && r.in_iface.empty() && !r.related_established) {
            everybody = everybody || !r.src;
            if (r.src) {
                allowed.push_back(*r.src);
            }
        }
    }
    std::vector<Network> revoked;
    if (everybody) {
        return revoked;
    }
    std::ranges::sort(allowed);
    for (const auto& k : actual.chain) {
        if (!k.rule || k.rule->verdict != Verdict::accept || !k.rule->src) {
            continue;
        }
        const Network& src = *k.rule->src;
        const bool still =
            std::ranges::binary_search(allowed, src) ||
            std::ranges::any_of(allowed, [&](const Network& n) { return n.contains(src); });
        if (!still && std::ranges::find(revoked, src) == revoked.end()) {
            revoked.push_back(src);
        }
    }
    return revoked;
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
    case DriftKind::jump_missing:
        return "jump_missing";
    case DriftKind::jump_shadowed:
        return "jump_shadowed";
    case DriftKind::jump_misplaced:
        return "jump_misplaced";
    case DriftKind::jump_stale:
        return "jump_stale";
    }
    return "unknown";
}

std::string Drift::describe() const {
    std::string out = std::string(to_string(family)) + " " + chain;
    if (kind == DriftKind::chain_missing) {
        return out + ": chain missing";
    }
    out += " rule " + std::to_string(position) + ": ";
    switch (kind) {
    case DriftKind::rule_changed:
        return out + "changed: want \"" + expected + "\", found \"" + actual + "\"";
    case DriftKind::rule_missing:
    case DriftKind::jump_missing:
        return out + "missing: \"" + expected + "\"";
    case DriftKind::rule_extra:
        return out + "not ours: \"" + actual + "\"";
    case DriftKind::jump_shadowed:
    case DriftKind::jump_misplaced:
        return out + "\"" + expected + "\" is " + actual;
    case DriftKind::jump_stale:
        return out + "stale: \"" + actual + "\"";
    default:
        return out;
    }
}

Comparison compare(const Ruleset& desired, const KernelView& actual) {
    Comparison out;
    compare_chain(desired, actual, out);
    compare_input(desired, actual, out);
    if (out.plan.erase_count > 0) { // only rules taken out of our chain can revoke anybody
        out.revoked = no_longer_allowed(desired, actual);
    }
    return out;
}

Plan removal_plan(const KernelView& actual) {
    Plan plan;
    for (std::size_t j = actual.input.size(); j-- > 0;) {
        if (actual.input[j].ours()) {
            plan.input_deletes.push_back(j);
        }
    }
    plan.delete_chain = actual.chain_exists;
    return plan;
}

} // namespace memguard
