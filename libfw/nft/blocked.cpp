#include "blocked.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <optional>

namespace memguard::nft {

namespace {

std::optional<Protocol> protocol_of(std::uint8_t l4proto) {
    if (l4proto == IPPROTO_TCP) {
        return Protocol::tcp;
    }
    if (l4proto == IPPROTO_UDP) {
        return Protocol::udp;
    }
    return std::nullopt;
}

// The protocols the input chain's jumps send to `family`'s guard chain, tcp first.
std::vector<Protocol> guarded(const TableModel& table, Family family) {
    std::vector<Protocol> out;
    const ChainModel* input = table.chain(kInputChain);
    for (const RuleModel& r : input != nullptr ? input->rules : std::vector<RuleModel>{}) {
        const auto p = r.l4proto ? protocol_of(*r.l4proto) : std::nullopt;
        if (r.jump == guard_chain(family) && p && std::ranges::find(out, *p) == out.end()) {
            out.push_back(*p);
        }
    }
    std::ranges::sort(out);
    return out;
}

BlockedCount& entry(std::vector<BlockedCount>& counts, Family family, Protocol protocol) {
    const auto it = std::ranges::find_if(counts, [&](const BlockedCount& c) {
        return c.family == family && c.protocol == protocol;
    });
    if (it != counts.end()) {
        return *it;
    }
    counts.push_back({family, protocol, 0, 0});
    return counts.back();
}

void count_table(const TableModel& table, Family family, std::vector<BlockedCount>& counts) {
    const auto protocols = guarded(table, family);
    for (const Protocol p : protocols) {
        entry(counts, family, p); // a guarded protocol is reported, zero or not
    }
    const ChainModel* chain = table.chain(guard_chain(family));
    auto unseen = protocols; // what a catch-all rule can still see
    for (const RuleModel& r : chain != nullptr ? chain->rules : std::vector<RuleModel>{}) {
        if (!r.blocks || !r.counted || r.comment != kComment) {
            continue;
        }
        std::optional<Protocol> p;
        if (r.l4proto) {
            p = protocol_of(*r.l4proto);
            if (r.matches == 1 && p) { // `meta l4proto P counter drop`: nothing of P gets past
                std::erase(unseen, *p);
            }
        } else if (unseen.size() == 1) {
            p = unseen.front();
        }
        if (p && std::ranges::find(protocols, *p) != protocols.end()) {
            BlockedCount& c = entry(counts, family, *p);
            c.packets += r.packets;
            c.bytes += r.bytes;
        }
    }
}

} // namespace

std::vector<BlockedCount> blocked_counts(const Snapshot& snap) {
    std::vector<BlockedCount> counts;
    for (const Family family : both_families) {
        for (const auto* table : snap.tables()) {
            if (*table && (*table)->ours()) {
                count_table(**table, family, counts);
            }
        }
    }
    std::ranges::sort(counts, [](const BlockedCount& a, const BlockedCount& b) {
        return std::pair(a.family, a.protocol) < std::pair(b.family, b.protocol);
    });
    return counts;
}

} // namespace memguard::nft
