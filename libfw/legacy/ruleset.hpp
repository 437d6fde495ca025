// Policy → the rules we want in the kernel, per address family.
#pragma once

#include "desired.hpp"
#include "ownership.hpp"
#include "rule.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace memguard {

// A guard with more allowed networks in a family than this gets them in an ipset hash:net set
// (set_name), matched by one rule, instead of one rule per network: every new connection walks
// the chain, so a long list costs each connection a walk of the list, and a set costs it one
// hash lookup.
inline constexpr std::size_t set_threshold = 16;

// Several guards share the chains: the jumps cover every guard's (protocol, port), the head
// (loopback, established) and the closing rules are shared, and each guard's accept rules also
// match its protocol and port, so a network one guard allows reaches none of another's ports.
// One guard keeps the accept rules without protocol and port (the layout before guards).

// What goes into the mangle table. Docker publishes a port by a DNAT in nat PREROUTING, and
// those packets are routed through FORWARD, never INPUT: the jumps in mangle FORWARD send the
// ones whose port before the DNAT is ours to our mangle MEMGUARD. mangle, not filter: an ACCEPT
// there does not skip Docker's or the admin's filter FORWARD rules, a DROP there drops.
struct MangleRuleset {
    // At the top of mangle PREROUTING: the strict reverse-path drops. Before nat, so they cover
    // the INPUT path and the DNAT path; only packets to this host's own addresses.
    std::vector<Rule> prerouting;
    std::vector<Rule> jumps; // at the top of mangle FORWARD, in this order
    // The whole mangle MEMGUARD chain: the filter chain's rules, except that REJECT is not
    // allowed in mangle, so it always ends in DROP ("action": "reject" drops on the DNAT path).
    std::vector<Rule> chain;
    // False when mangle MEMGUARD is somebody else's: `jumps` are then DROP rules that close the
    // DNAT path straight in mangle FORWARD, and the chain is neither written nor compared.
    bool use_chain = true;
    friend bool operator==(const MangleRuleset&, const MangleRuleset&) = default;
};

struct Ruleset {
    Family family = Family::ipv4;
    std::vector<Rule> jumps; // at the top of INPUT, in this order
    std::vector<Rule> chain; // the whole MEMGUARD chain, in this order
    // False when MEMGUARD is somebody else's: `jumps` are then loopback-only rules that close
    // the ports straight in INPUT, and the chain is neither written nor compared.
    bool use_chain = true;
    // Our sets by name (set_name of the family and guard), each with its members sorted, for the
    // guards whose allowlist goes into a set. (Both tables' chains match on the same sets.)
    std::map<std::string, std::vector<Network>> sets;
    MangleRuleset mangle;

    friend bool operator==(const Ruleset&, const Ruleset&) = default;
};

// Whether a guard's allowlist goes into its set (more than set_threshold networks, none /0).
bool wants_set(const GuardSpec& guard);
// The names of the sets the family's guards want (set_name), whether or not claims allow them.
std::vector<std::string> wanted_sets(const FamilyDesired& want);
// Every port of every guard, in order, each once.
std::vector<std::uint16_t> all_ports(const FamilyDesired& want);

// What `claims` refuses is not used: a set that is not ours turns into one rule per network, a
// chain that is not ours into loopback-only rules in INPUT (in mangle: DROP rules in FORWARD).
Ruleset build_ruleset(const FamilyDesired& want, const Claims& claims = {});

// The same, straight from a policy (tests, tools).
inline bool wants_set(const Policy& policy, Family family) {
    return !wanted_sets(desired_family(policy, family)).empty();
}
inline Ruleset build_ruleset(const Policy& policy, Family family, const Claims& claims = {}) {
    return build_ruleset(desired_family(policy, family), claims);
}

} // namespace memguard
