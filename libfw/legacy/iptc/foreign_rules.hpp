// The rules of one legacy x_tables table (iptables-legacy), anybody's, read through libiptc and
// decoded as far as `memguardd doctor` needs: protocol, tcp/udp destination ports, comment, the
// conntrack original destination port, rpfilter, and the target with its payload. Each entry's
// layout is read by walk_entry (entry_walk.hpp), as our own rules' are. Read only.
#pragma once

#include "net.hpp"
#include "netlink/nat_rules.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace memguard::iptc {

using netlink::NatForward;
using netlink::PortRange;

struct XtRule {
    std::string chain;
    std::uint8_t protocol = 0;              // IPPROTO_TCP, IPPROTO_UDP; 0: any (or `! -p`)
    std::optional<PortRange> dport;         // -m tcp/udp --dport, when not inverted
    std::string comment;                    // -m comment --comment
    std::optional<PortRange> ct_orig_dport; // -m conntrack --ctorigdstport, when not inverted
    bool rpfilter_invert = false;           // -m rpfilter --invert
    std::string target;                     // "DNAT", "MEMGUARD", "ACCEPT"; "" for a fall-through
    unsigned target_revision = 0;
    std::vector<std::uint8_t> target_info; // the target's payload after its header
};

// Whether the kernel has made the legacy `table` of `family` in this network namespace (its name
// in /proc/net/ip_tables_names or ip6_tables_names). Asking libiptc for one it has not made
// would make it (the kernel loads iptable_nat and registers its hooks).
bool legacy_table_exists(Family family, std::string_view table);

// One entry's bytes (exactly next_offset long) of `family` → the rule. Throws EntryError when
// its offsets or sizes do not fit.
XtRule decode_foreign_entry(Family family, const std::string& chain,
                            std::span<const std::uint8_t> bytes);

// Every rule of `table`, chain by chain in the kernel's order; {} when the table does not exist.
// Throws KernelError naming the family and table when libiptc cannot read it, EntryError naming
// the table and chain when an entry does not decode.
std::vector<XtRule> legacy_rules(Family family, std::string_view table);

// The DNAT/REDIRECT rules with a tcp or udp destination port match in the legacy nat tables.
// A table the kernel has not made in this namespace is not made by asking (its name is not in
// /proc/net/ip{,6}_tables_names): it has no rules. Throws KernelError when a table cannot be read.
std::vector<NatForward> legacy_nat_forwards();

} // namespace memguard::iptc
