// Rules of other tools, built with libnftnl as they write them: for the unit tests of the rule
// decoder (test_rule_message.cpp) and the seeds of fuzz_nft_foreign (make_nft_seeds.cpp).
#pragma once

#include "net.hpp"
#include "nft/handles.hpp"

#include <cstdint>
#include <utility>
#include <vector>

// (nfgen_family, rule): Docker's DNAT and masquerade, iptables-nft's x_tables match and target,
// firewalld's state, set, reverse-path, log, limit, quota, reject and meter rules, an ip6 DNAT.
std::vector<std::pair<std::uint16_t, memguard::nft::RulePtr>> foreign_rules();

// Docker's `ip nat DOCKER: iifname != "docker0" meta l4proto tcp tcp dport 11211 counter dnat to
// 172.17.0.2:11211` (the first of foreign_rules()).
memguard::nft::RulePtr docker_dnat();

// iptables-nft 1.8.10 and later's `-p tcp --dport 11211 -j DNAT` in table ip or ip6 nat, chain
// DOCKER: the protocol read from the network header (`ip protocol tcp`, offset 9; `ip6 nexthdr
// tcp`, offset 6) instead of `meta l4proto`; a DNAT to 172.17.0.2 or fd00::2, port 11211.
memguard::nft::RulePtr iptables_nft_network_protocol_dnat(memguard::Family family,
                                                          std::uint32_t protocol_offset);
