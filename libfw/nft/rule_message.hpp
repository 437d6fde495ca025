// The one decoder of nftables rule messages (NFT_MSG_NEWRULE, from a dump or an event), for our
// own table's read-back and for every other table `memguardd doctor` reads. libnftnl 1.2.4
// exit()s the process on an attribute of the wrong type ("nf_tables kernel ABI is broken"),
// strcmp()s a missing expression name and strdup()s strings it never checked for their NUL, so
// every attribute of the rule, of each expression and of each nested value, verdict or
// expression is checked here first (type, length, NUL, nesting, presence); only a rule that
// passes reaches nftnl_rule_nlmsg_parse. Internal to libfw/nft (names libnftnl's types).
#pragma once

#include "decode.hpp"
#include "handles.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace memguard::nft {

// Which expressions a caller takes: every one libnftnl 1.2.4 parses, or only those named.
using ExpressionNames = std::span<const std::string_view>;

struct RuleMessage {
    std::uint8_t family = 0; // nfgen_family
    std::string table;
    std::string chain;
    // libnftnl's rule, set only when every attribute passed the check (and libnftnl agreed).
    RulePtr rule;
    // Why `rule` is null: the first attribute that failed, with where it sits.
    std::string error;
    // The rule's own bytes, for a caller that keeps a refused rule as an opaque one.
    std::optional<std::uint64_t> handle;
    std::optional<std::vector<std::uint8_t>> expressions; // NFTA_RULE_EXPRESSIONS' payload
    std::optional<std::vector<std::uint8_t>> userdata;
};

struct RuleRead {
    // nullopt: not one NFT_MSG_NEWRULE with a table and a chain, or one of those malformed.
    std::optional<RuleMessage> message;
    std::string error; // why `message` is nullopt
};

// `accepted` empty: every expression libnftnl parses; otherwise only those names (any other
// expression fails the check, with an error naming it).
RuleRead read_rule_message(Bytes message, ExpressionNames accepted = {});

} // namespace memguard::nft
