// Parsers for the nftables messages we read: one dump reply (or event) as bytes → our plain
// model. Each returns nullopt for anything malformed or of another type; none trusts a length
// it has not checked (messages go through netlink::detail::MessageView before libnftnl sees them).
#pragma once

#include "model.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace memguard::nft {

using Bytes = std::span<const std::uint8_t>;

// NFT_MSG_NEWTABLE → the table without chains or sets. `family` is the message's nfgen_family.
struct DecodedTable {
    std::uint8_t family = 0;
    TableModel table;
};
std::optional<DecodedTable> decode_table(Bytes message);

struct DecodedChain {
    std::uint8_t family = 0;
    std::string table;
    ChainModel chain;
};
std::optional<DecodedChain> decode_chain(Bytes message);

struct DecodedSet {
    std::uint8_t family = 0;
    std::string table;
    SetModel set; // no ranges yet; `family` from the key length (4 or 16), else nullopt
};
std::optional<DecodedSet> decode_set(Bytes message);

struct DecodedElements {
    std::string table;
    std::string set;
    std::uint32_t key_len = 0; // the same for every element
    std::vector<IntervalElement> elements;
};
std::optional<DecodedElements> decode_elements(Bytes message);

struct DecodedRule {
    std::uint8_t family = 0;
    std::string table;
    RuleModel rule;
};
std::optional<DecodedRule> decode_rule(Bytes message);

// NFT_MSG_NEWGEN → the ruleset's generation id.
std::optional<std::uint32_t> decode_gen(Bytes message);

// An event from NFNLGRP_NFTABLES, sorted: does it tell us about our tables, from somebody else?
enum class EventClass : std::uint8_t {
    unrelated, // another table, another family, NEWGEN, or not nftables at all
    own,       // about our tables, made by `own_portid` (our batch socket)
    foreign,   // about our tables, made by anybody else
};
EventClass classify_event(Bytes message, std::uint32_t own_portid);

} // namespace memguard::nft
