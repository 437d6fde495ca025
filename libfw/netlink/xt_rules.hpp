// The rules of one legacy x_tables table (iptables-legacy), read through libiptc and decoded as
// far as `memguardd doctor` needs: protocol, tcp/udp destination ports, comment, the conntrack
// original destination port, rpfilter, and the target with its payload. Read only.
#pragma once

#include "nat_rules.hpp"
#include "net.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memguard::netlink {

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

// Every rule of `table`, chain by chain in the kernel's order; {} when the table does not exist.
// Throws KernelError naming the family and table when libiptc cannot read it.
std::vector<XtRule> legacy_rules(Family family, std::string_view table);

} // namespace memguard::netlink
