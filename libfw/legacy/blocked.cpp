// What our closing rules counted: the kernel's own packet and byte counters of our DROP and
// REJECT rules, per protocol (Backend::blocked).
#include "legacy_backend.hpp"
#include "ownership.hpp"

#include <algorithm>
#include <array>
#include <chrono>

namespace memguard {

namespace {

constexpr std::array<Protocol, 2> protocols{Protocol::tcp, Protocol::udp};

using Counts = std::array<BlockedCount, 2>; // tcp, udp

bool closing(const KernelRule& k) {
    return k.ours() && k.rule &&
           (k.rule->verdict == Verdict::drop || k.rule->verdict == Verdict::reject);
}

void add(Counts& counts, Protocol proto, const KernelRule& k) {
    auto& c = counts[proto == Protocol::tcp ? 0 : 1];
    c.packets += k.packets;
    c.bytes += k.bytes;
}

// The protocols our jumps in `hook` send to MEMGUARD.
std::vector<Protocol> jumped(const std::vector<KernelRule>& hook) {
    std::vector<Protocol> out;
    for (const auto p : protocols) {
        if (std::ranges::any_of(hook, [&](const KernelRule& k) {
                return k.ours() && k.rule && k.rule->verdict == Verdict::jump_memguard &&
                       k.rule->proto == p;
            })) {
            out.push_back(p);
        }
    }
    return out;
}

// A MEMGUARD chain's closing rules: one with -p counts for its protocol; a catch-all one for
// the protocols the chain can still see below the earlier ones (udp after `-p tcp -j DROP`),
// or for the only protocol the jumps send when none is left. A catch-all that could see both
// (a chain from before the split) cannot be told apart and is not counted.
void add_chain(Counts& counts, const std::vector<KernelRule>& chain,
               const std::vector<Protocol>& seen) {
    std::vector<Protocol> left = seen;
    for (const auto& k : chain) {
        if (!closing(k)) {
            continue;
        }
        if (k.rule->proto) {
            add(counts, *k.rule->proto, k);
            std::erase(left, *k.rule->proto);
        } else if (left.size() == 1) {
            add(counts, left.front(), k);
        } else if (left.empty() && seen.size() == 1) {
            add(counts, seen.front(), k);
        }
    }
}

// Drops with -p in a built-in chain: fail-closed rules in INPUT and mangle FORWARD, the
// reverse-path drops in mangle PREROUTING.
void add_hook(Counts& counts, const std::vector<KernelRule>& hook) {
    for (const auto& k : hook) {
        if (closing(k) && k.rule->proto) {
            add(counts, *k.rule->proto, k);
        }
    }
}

// Every protocol a rule of ours in `hook` names.
void add_guarded(const std::vector<KernelRule>& hook, std::array<bool, 2>& guarded) {
    for (const auto& k : hook) {
        if (k.ours() && k.rule && k.rule->proto) {
            guarded[*k.rule->proto == Protocol::tcp ? 0 : 1] = true;
        }
    }
}

} // namespace

std::vector<BlockedCount> blocked_in(const KernelView& view) {
    Counts counts{BlockedCount{view.family, Protocol::tcp, 0, 0},
                  BlockedCount{view.family, Protocol::udp, 0, 0}};
    std::array<bool, 2> guarded{false, false};
    const Claims claims = claim(view);
    add_guarded(view.input, guarded);
    add_hook(counts, view.input);
    if (view.chain_exists && claims.chain) {
        add_chain(counts, view.chain, jumped(view.input));
    }
    if (view.mangle) {
        const MangleView& m = *view.mangle;
        add_guarded(m.forward, guarded);
        add_guarded(m.prerouting, guarded);
        add_hook(counts, m.forward);
        add_hook(counts, m.prerouting);
        if (m.chain_exists && claims.mangle_chain) {
            add_chain(counts, m.chain, jumped(m.forward));
        }
    }
    std::vector<BlockedCount> out;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        if (guarded[i]) {
            out.push_back(counts[i]);
        }
    }
    return out;
}

std::vector<BlockedCount> LegacyBackend::blocked() {
    constexpr auto fresh_for = std::chrono::seconds(1);
    std::vector<BlockedCount> out;
    for (const auto family : both_families) {
        auto& seen = seen_[family == Family::ipv4 ? 0 : 1];
        const bool fresh = seen && std::chrono::steady_clock::now() - seen->at < fresh_for;
        const auto counts = blocked_in(fresh ? seen->view : tables_->snapshot(family));
        seen.reset();
        out.insert(out.end(), counts.begin(), counts.end());
    }
    return out;
}

} // namespace memguard
