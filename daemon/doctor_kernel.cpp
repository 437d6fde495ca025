// doctor: the kernel's rules against what the daemon would program. A difference that lets a
// host not on the list in is an exposure: nothing of ours in a family, a network our rules
// accept that the config does not list, and the differences that can open the port (a missing
// jump or drop, a foreign rule ahead of our jump that can take its packets, a rule that is not
// ours among ours). One that cannot (a missing accept, a stale rule) is a warning.
#include "doctor.hpp"

#include "revocation.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <string_view>

namespace memguard::doctor {

namespace {

// Drift kinds (report.hpp) after which a packet from a host not on the list may get through.
constexpr std::array<std::string_view, 12> opening_kinds{
    "chain_missing", "table_missing", "table_not_owned", "jump_missing",
    "jump_shadowed", "rule_changed",  "rule_extra",      "rule_order",
    "chain_changed", "set_missing",   "set_changed",     "rule_missing",
};

bool lowercase_contains(std::string text, std::string_view part) {
    std::ranges::transform(text, text.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text.find(part) != std::string::npos;
}

// A missing accept only keeps allowed hosts out; any other missing rule may be the drop. A stale
// accept of ours lets in what it names (the networks it names are also in revoked_sources,
// but not a rule that asks for no source at all), unless it is for loopback or for
// established connections.
bool opens(const Drift& drift) {
    const bool accept = lowercase_contains(drift.text, "accept");
    if (drift.kind == "rule_missing") {
        return !accept;
    }
    if (drift.kind == "rule_stale") {
        return accept && !lowercase_contains(drift.text, "established") &&
               !lowercase_contains(drift.text, "-i lo") &&
               !lowercase_contains(drift.text, "iifname \"lo\"");
    }
    return std::ranges::count(opening_kinds, drift.kind) > 0;
}

// The families with nothing of ours in the kernel.
std::vector<Family> families_without_ours(Guard& guard) {
    std::vector<Family> out;
    for (const auto& view : guard.read()) {
        if (!view.has_ours()) {
            out.push_back(view.family);
        }
    }
    return out;
}

std::string repair_fix(bool configured, const std::string& rules) {
    return configured ? "a running memguardd repairs this within verify_interval_s (memguardd "
                        "verify repairs it now); if none runs: systemctl start memguardd, or "
                        "memguardd apply --once"
                      : "correct the config (above); until then systemctl start memguardd "
                        "programs " +
                            rules;
}

} // namespace

void check_kernel(Doctor& d, Guard& guard, const Policy& policy, bool configured, bool last_good) {
    const std::string rules = configured  ? "the rules the config asks for"
                              : last_good ? "the rules of the last good policy"
                                          : "the fail-closed rules (loopback only)";
    if (const auto missing = families_without_ours(guard); !missing.empty()) {
        std::string names;
        for (const auto family : missing) {
            names += (names.empty() ? "" : " and ") + std::string(to_string(family));
        }
        d.finding(Severity::exposure,
                  "none of memguardd's rules are in the kernel for " + names +
                      ": nothing guards the ports there",
                  "systemctl start memguardd (or memguardd apply --once)");
        if (missing.size() == std::size(both_families)) {
            return; // every difference would say the same
        }
    }
    const Report report = guard.compare(policy);
    const auto extra = revoked_sources(report); // accepted now, not listed
    std::string opening =
        extra.empty()
            ? ""
            : "\n  memguardd's rules accept " + std::to_string(extra.size()) +
                  " network(s) the config does not list: " + first_few(extra, extra.size());
    std::string other;
    std::set<std::string> seen; // a table's drift is in both families' reports
    for (const auto& f : report.families) {
        for (const auto& drift : f.drift) {
            const bool lets_in = opens(drift) || (drift.kind == "set_members" && !extra.empty());
            if (seen.insert(drift.describe()).second) {
                (lets_in ? opening : other) += "\n  " + drift.describe();
            }
        }
    }
    if (!opening.empty()) {
        d.finding(Severity::exposure,
                  "the kernel does not hold " + rules +
                      ", in a way that can let hosts not on the list in:" + opening,
                  repair_fix(configured, rules));
    }
    if (!other.empty()) {
        d.finding(Severity::warning, "the kernel does not hold " + rules + ":" + other,
                  repair_fix(configured, rules));
    }
    if (opening.empty() && other.empty()) {
        ok("the kernel holds exactly " + rules);
    }
}

} // namespace memguard::doctor
