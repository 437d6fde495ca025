// One builder per rule of our table, each with the nft line it stands for: the vocabulary
// plan.cpp writes the table in. Internal to libfw/nft.
#pragma once

#include "desired.hpp"
#include "handles.hpp"
#include "plan.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace memguard::nft {

// th dport != 11211 accept (one guarded port), or th dport < 11211 accept and th dport > 11213
// accept (several); in forward, by the port asked for before a DNAT, per protocol:
// meta l4proto tcp ct original proto-dst != 11211 accept, the same for udp. The first rules of
// each base chain: a packet to no guarded port leaves our table after a compare or two, before
// any family, DNAT or route match. `ports`: every guarded port, sorted, not empty.
void pass_other_ports(std::string_view table, std::string_view chain,
                      std::span<const std::uint16_t> ports, std::vector<PlannedRule>& out);
// meta nfproto ipv4 meta l4proto tcp th dport 11211 jump guard4              (input)
// meta nfproto ipv4 meta l4proto tcp th dport 11211 fib daddr type local jump guard4 (prerouting)
RulePtr jump_rule(std::string_view table, std::string_view chain, Family f, Protocol p,
                  std::uint16_t port);
// meta nfproto ipv4 meta l4proto tcp ct direction original ct status dnat
//   ct original proto-dst 11211 jump guard4                                     (forward)
// A connection DNATed from a guarded port, judged by the port its client asked for whatever the
// address it asked at (this host's, a broadcast, multicast or anycast one, another host's).
RulePtr dnat_jump_rule(std::string_view table, Family f, Protocol p, std::uint16_t port);
// meta l4proto udp [th dport 11212] fib saddr . iif oif missing counter drop
RulePtr reverse_path_rule(std::string_view table, Family f, Protocol p,
                          std::optional<std::uint16_t> port);
// iifname "lo" accept
RulePtr loopback_rule(std::string_view table, Family f);
// ct state established,related accept
RulePtr established_rule(std::string_view table, Family f);

// What an accept rule matches besides the source: nothing (the only guard), or one guard's
// protocol and port: the packet's (`th dport`), or, for a DNATed connection, the one its
// client asked for (`ct status dnat ct original proto-dst`), which the forward chain jumps by.
struct ServiceMatch {
    Protocol protocol = Protocol::tcp;
    std::uint16_t port = 0;
    bool original = false;
};
struct SetRef {
    std::string name;
    std::uint32_t id = 0; // NFTNL_SET_ID of the set made in the same batch
};
// meta nfproto ipv4 [meta l4proto tcp th dport 11212] ip saddr @allow4 accept, or
// meta nfproto ipv4 meta l4proto tcp ct status dnat ct original proto-dst 11212
//   ip saddr @allow4-pages accept
RulePtr allow_rule(std::string_view table, Family f, const SetRef& set,
                   std::optional<ServiceMatch> match);
// limit rate N/second burst N packets log prefix "memguard" group G
RulePtr log_rule(std::string_view table, const FamilyDesired& d);
// [meta l4proto tcp counter drop] counter drop, or
// meta l4proto tcp counter reject with tcp reset, counter reject with icmp port-unreachable.
// `split`: the family guards tcp and udp, so a tcp-only drop comes first and the kernel counts
// blocked packets per protocol.
void closing_rules(std::string_view table, const FamilyDesired& d, bool split,
                   std::vector<PlannedRule>& out);

} // namespace memguard::nft
