// What the kernel holds for one source address, read back by the backend that made the rules:
// the elements of our allowlists and the rules of ours that let it in, and other tools' rules
// ahead of ours that may decide for it first. Each in the backend's own spelling, so that an
// admin finds it again with the usual tools (`memguardd explain`).
#pragma once

#include "netlink/nat_rules.hpp"
#include "policy.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace memguard {

// An element of one of our allowlist sets, or an accept rule of ours, that holds the address.
struct KernelMatch {
    Family family = Family::ipv4;
    // The guard it belongs to, by the name our set carries ("memguard4-pages", "allow4-pages");
    // "": the set or rule of the default guard or of the only one (a layout without names).
    std::string guard;
    std::optional<Protocol> protocol;  // what the rule is limited to; nullopt: the guard's all
    std::optional<std::uint16_t> port; // nullopt: every port of the guard
    std::string where;     // "ipset memguard4", "chain MEMGUARD", "inet memguard allow4"
    std::string element;   // "10.1.0.0/16", "-s 10.1.0.0/16 -m comment --comment ... -j ACCEPT"
    std::string label;     // the kernel's comment on it; "" when none
    bool loopback = false; // the loopback rule (-i lo), not an allowlist entry
};

// Somebody else's rule that decides for packets to our ports before ours: legacy, a rule in
// INPUT above our jumps that accepts, drops or sends them elsewhere; nftables, a rule of another
// table that drops or rejects them (final wherever it runs; another table's accept is not).
struct RuleAhead {
    Family family = Family::ipv4;
    std::string where; // "INPUT rule 1", "nft table inet fw, chain input"
    // As iptables-legacy-save prints it, as far as it can be read; nftables: what of it was read
    // ("drops tcp dport 11211").
    std::string text;
    std::optional<Protocol> protocol;        // what it is limited to, when known
    std::optional<netlink::PortRange> ports; // nullopt: every port, or not known
    bool certain = false; // its matches are known and hold the address; false: it may match
};

struct KernelExplain {
    // Where the address was looked up, in the backend's spelling: "chain MEMGUARD",
    // "ipset memguard4", "inet memguard allow4". Empty: nothing of ours for the family.
    std::vector<std::string> looked_in;
    std::vector<KernelMatch> matches;
    std::vector<RuleAhead> ahead;
};

} // namespace memguard
