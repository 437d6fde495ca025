// One rule (libnftnl object) → what we compare and what we print: its expressions in libnftnl's
// debug form (counter values left out, so only the rule's meaning counts) and an nft-like line
// ("meta nfproto ipv4 meta l4proto tcp th dport 11211 jump guard4"). Internal to libfw/nft.
#pragma once

#include "handles.hpp"
#include "model.hpp"

namespace memguard::nft {

RuleModel render_rule(const nftnl_rule* rule);

} // namespace memguard::nft
