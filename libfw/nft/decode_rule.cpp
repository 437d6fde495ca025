// Rules go through the one decoder of rule messages (rule_message.hpp), which checks every
// attribute before libnftnl sees it. Of the expressions it takes we ask only for the ones the
// renderer knows; a rule that fails the check (or uses another expression) is kept as an opaque
// rule: its expressions' bytes are its key, so it still differs from ours.
#include "decode.hpp"

#include "render.hpp"
#include "rule_message.hpp"

#include <array>
#include <string_view>
#include <vector>

namespace memguard::nft {

namespace {

// The expressions render.cpp prints and compares.
constexpr std::array<std::string_view, 12> kRendered{
    "meta", "cmp", "payload", "lookup", "immediate", "counter",
    "ct",   "fib", "bitwise", "limit",  "log",       "reject",
};

std::string hex(const std::vector<std::uint8_t>& bytes) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    for (const std::uint8_t b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 0xF];
    }
    return out;
}

// A rule we will not hand to libnftnl, known by its bytes.
RuleModel opaque_rule(const RuleMessage& m) {
    RuleModel r;
    r.chain = m.chain;
    r.key = m.expressions ? "opaque " + hex(*m.expressions) : "";
    r.text = "[a rule memguardd does not read]";
    r.handle = m.handle.value_or(r.handle);
    if (m.userdata) {
        r.comment =
            comment_from_udata(m.userdata->data(), static_cast<std::uint32_t>(m.userdata->size()),
                               NFTNL_UDATA_RULE_COMMENT);
        r.key += " comment " + r.comment;
    }
    return r;
}

} // namespace

std::optional<DecodedRule> decode_rule(Bytes message) {
    const RuleRead read = read_rule_message(message, kRendered);
    if (!read.message) {
        return std::nullopt;
    }
    const RuleMessage& m = *read.message;
    DecodedRule out;
    out.family = m.family;
    out.table = m.table;
    out.rule = m.rule ? render_rule(m.rule.get()) : opaque_rule(m);
    return out;
}

} // namespace memguard::nft
