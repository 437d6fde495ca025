// Rules go through libnftnl, for its expression parsers, but only after a strict check of our
// own: libnftnl 1.2.4 exit()s the process on an expression attribute of the wrong type ("nf_tables
// kernel ABI is broken"), strcmp()s a missing expression name, strdup()s strings it never checked
// for their NUL and the missing chain of a jump. Every attribute it reads is checked here first
// (type, NUL, presence); an attribute we do not list fails the check. A rule that fails the check
// (or uses an expression we do not know) is kept as an opaque rule: its expressions' bytes are its
// key, so it still differs from ours.
#include "decode.hpp"

#include "decode_detail.hpp"
#include "render.hpp"

#include <linux/netfilter/nf_tables.h>

#include <array>
#include <string_view>
#include <vector>

namespace memguard::nft {

namespace {

using detail::AttrPolicy;
using detail::AttrRule;
using detail::AttrTable;

constexpr AttrRule U8{MNL_TYPE_U8, 0};
constexpr AttrRule U16{MNL_TYPE_U16, 0};
constexpr AttrRule U32{MNL_TYPE_U32, 0};
constexpr AttrRule U64{MNL_TYPE_U64, 0};
constexpr AttrRule STR{MNL_TYPE_NUL_STRING, 0};
constexpr AttrRule NEST{MNL_TYPE_NESTED, 0}; // in an expression: a data register (nft_data)

// Index = attribute type; an attribute of a type not listed fails the check.
using Policy = std::vector<AttrRule>;

struct ExprPolicy {
    std::string_view name;
    Policy attrs;
};

// Attribute types as libnftnl 1.2.4 checks them (src/expr/*.c), for the expressions we render.
const std::array<ExprPolicy, 12>& expression_policies() {
    static const std::array<ExprPolicy, 12> policies{{
        {"meta", {{}, U32, U32, U32}}, // DREG KEY SREG
        {"cmp", {{}, U32, U32, NEST}}, // SREG OP DATA
        {"payload",
         {{}, U32, U32, U32, U32, U32, U32, U32, U32}},          // DREG BASE OFFSET LEN SREG CSUM*
        {"lookup", {{}, STR, U32, U32, U32, U32}},               // SET SREG DREG SET_ID FLAGS
        {"immediate", {{}, U32, NEST}},                          // DREG DATA
        {"counter", {{}, U64, U64}},                             // BYTES PACKETS
        {"ct", {{}, U32, U32, U8, U32}},                         // DREG KEY DIRECTION SREG
        {"fib", {{}, U32, U32, U32}},                            // DREG RESULT FLAGS
        {"bitwise", {{}, U32, U32, U32, NEST, NEST, U32, NEST}}, // SREG DREG LEN MASK XOR OP DATA
        {"limit", {{}, U64, U64, U32, U32, U32}},                // RATE UNIT BURST TYPE FLAGS
        {"log", {{}, U16, STR, U32, U16, U32, U32}}, // GROUP PREFIX SNAPLEN QTHRESHOLD LEVEL FLAGS
        {"reject", {{}, U32, U8}},                   // TYPE ICMP_CODE
    }};
    return policies;
}

const Policy kVerdict{{}, U32, STR};                // NFTA_VERDICT_CODE, _CHAIN
const Policy kData{{}, {MNL_TYPE_BINARY, 0}, NEST}; // NFTA_DATA_VALUE, _VERDICT
constexpr std::size_t kMaxValue = 64;               // NFT_DATA_VALUE_MAXLEN

bool strict(const nlattr* nest, const Policy& policy, const Policy* nested);

// A verdict has a code, and a jump or goto names its chain.
bool verdict_ok(const nlattr* verdict) {
    static constexpr AttrPolicy<NFTA_VERDICT_MAX + 1> kPolicy = [] {
        AttrPolicy<NFTA_VERDICT_MAX + 1> p{};
        p[NFTA_VERDICT_CODE] = {MNL_TYPE_U32, 0};
        p[NFTA_VERDICT_CHAIN] = {MNL_TYPE_NUL_STRING, 0};
        return p;
    }();
    AttrTable attrs(kPolicy);
    if (!attrs.parse(verdict) || attrs[NFTA_VERDICT_CODE] == nullptr) {
        return false;
    }
    const auto code = static_cast<std::int32_t>(
        detail::load_be32(mnl_attr_get_payload(attrs[NFTA_VERDICT_CODE])));
    return (code != NFT_JUMP && code != NFT_GOTO) || attrs[NFTA_VERDICT_CHAIN] != nullptr;
}

bool strict_attr(const nlattr* a, const Policy& policy, const Policy* nested) {
    const std::uint16_t type = mnl_attr_get_type(a);
    if (type >= policy.size() || policy[type].type == MNL_TYPE_UNSPEC ||
        mnl_attr_validate(a, policy[type].type) < 0) {
        return false;
    }
    if (policy[type].type == MNL_TYPE_BINARY) {
        return mnl_attr_get_payload_len(a) > 0 && mnl_attr_get_payload_len(a) <= kMaxValue;
    }
    if (policy[type].type != MNL_TYPE_NESTED) {
        return true;
    }
    // An expression's register data holds a value or a verdict, a verdict only plain fields.
    return nested != nullptr && strict(a, *nested, nested == &kData ? &kVerdict : nullptr) &&
           (nested != &kVerdict || verdict_ok(a));
}

bool strict(const nlattr* nest, const Policy& policy, const Policy* nested) {
    return each_nested(nest, [&](const nlattr* a) { return strict_attr(a, policy, nested); });
}

// libnftnl prints fib's result from a table without an entry for 0 (NFT_FIB_RESULT_UNSPEC):
// a fib expression must have all three attributes, a result it names and flags it knows.
bool fib_ok(const nlattr* data) {
    static constexpr AttrPolicy<NFTA_FIB_MAX + 1> kPolicy = [] {
        AttrPolicy<NFTA_FIB_MAX + 1> p{};
        p[NFTA_FIB_DREG] = {MNL_TYPE_U32, 0};
        p[NFTA_FIB_RESULT] = {MNL_TYPE_U32, 0};
        p[NFTA_FIB_FLAGS] = {MNL_TYPE_U32, 0};
        return p;
    }();
    constexpr std::uint32_t kKnownFlags = NFTA_FIB_F_SADDR | NFTA_FIB_F_DADDR | NFTA_FIB_F_MARK |
                                          NFTA_FIB_F_IIF | NFTA_FIB_F_OIF | NFTA_FIB_F_PRESENT;
    AttrTable attrs(kPolicy);
    if (data == nullptr || !attrs.parse(data) || attrs[NFTA_FIB_DREG] == nullptr ||
        attrs[NFTA_FIB_RESULT] == nullptr || attrs[NFTA_FIB_FLAGS] == nullptr) {
        return false;
    }
    const std::uint32_t result = detail::load_be32(mnl_attr_get_payload(attrs[NFTA_FIB_RESULT]));
    const std::uint32_t flags = detail::load_be32(mnl_attr_get_payload(attrs[NFTA_FIB_FLAGS]));
    return result >= NFT_FIB_RESULT_OIF && result <= NFT_FIB_RESULT_ADDRTYPE &&
           (flags & ~kKnownFlags) == 0;
}

constexpr AttrPolicy<NFTA_EXPR_MAX + 1> kExprPolicy = [] {
    AttrPolicy<NFTA_EXPR_MAX + 1> p{};
    p[NFTA_EXPR_NAME] = {MNL_TYPE_NUL_STRING, 0};
    p[NFTA_EXPR_DATA] = {MNL_TYPE_NESTED, 0};
    return p;
}();

bool expression_ok(const nlattr* item) {
    if (mnl_attr_get_type(item) != NFTA_LIST_ELEM || mnl_attr_validate(item, MNL_TYPE_NESTED) < 0) {
        return false;
    }
    AttrTable expr(kExprPolicy);
    if (!expr.parse(item) || expr[NFTA_EXPR_NAME] == nullptr) {
        return false;
    }
    const std::string_view name = mnl_attr_get_str(expr[NFTA_EXPR_NAME]);
    for (const ExprPolicy& p : expression_policies()) {
        if (p.name == name) {
            const nlattr* data = expr[NFTA_EXPR_DATA];
            return (data == nullptr || strict(data, p.attrs, &kData)) &&
                   (name != "fib" || fib_ok(data));
        }
    }
    return false;
}

constexpr AttrPolicy<NFTA_RULE_MAX + 1> kRulePolicy = [] {
    AttrPolicy<NFTA_RULE_MAX + 1> p{};
    p[NFTA_RULE_TABLE] = {MNL_TYPE_NUL_STRING, 0};
    p[NFTA_RULE_CHAIN] = {MNL_TYPE_NUL_STRING, 0};
    p[NFTA_RULE_HANDLE] = {MNL_TYPE_U64, 0};
    p[NFTA_RULE_EXPRESSIONS] = {MNL_TYPE_NESTED, 0};
    p[NFTA_RULE_USERDATA] = {MNL_TYPE_BINARY, 0};
    return p;
}();

// Every attribute of the rule of a type libnftnl reads, and of that type; expressions as above.
bool rule_ok(const nlmsghdr* nlh) {
    return each_attr(nlh, sizeof(nfgenmsg), [](const nlattr* a) {
        switch (mnl_attr_get_type(a)) {
        case NFTA_RULE_TABLE:
        case NFTA_RULE_CHAIN:
            return mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0;
        case NFTA_RULE_HANDLE:
        case NFTA_RULE_POSITION:
            return mnl_attr_validate(a, MNL_TYPE_U64) >= 0;
        case NFTA_RULE_ID:
        case NFTA_RULE_POSITION_ID:
            return mnl_attr_validate(a, MNL_TYPE_U32) >= 0;
        case NFTA_RULE_USERDATA:
            return mnl_attr_get_payload_len(a) <= NFT_USERDATA_MAXLEN;
        case NFTA_RULE_EXPRESSIONS:
            return mnl_attr_validate(a, MNL_TYPE_NESTED) >= 0 && each_nested(a, expression_ok);
        default:
            return false; // NFTA_RULE_COMPAT and anything newer: not for libnftnl
        }
    });
}

std::string hex(const nlattr* a) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    const auto* p = static_cast<const std::uint8_t*>(mnl_attr_get_payload(a));
    for (std::uint16_t i = 0; i < mnl_attr_get_payload_len(a); ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 0xF];
    }
    return out;
}

// A rule we will not hand to libnftnl, known by its bytes.
RuleModel opaque_rule(const AttrTable<NFTA_RULE_MAX + 1>& attrs) {
    RuleModel r;
    r.chain = mnl_attr_get_str(attrs[NFTA_RULE_CHAIN]);
    r.key = attrs[NFTA_RULE_EXPRESSIONS] != nullptr ? "opaque " + hex(attrs[NFTA_RULE_EXPRESSIONS])
                                                    : "";
    r.text = "[a rule memguardd does not read]";
    if (const nlattr* handle = attrs[NFTA_RULE_HANDLE]) {
        r.handle = be64toh(mnl_attr_get_u64(handle));
    }
    if (const nlattr* udata = attrs[NFTA_RULE_USERDATA]) {
        r.comment = comment_from_udata(mnl_attr_get_payload(udata), mnl_attr_get_payload_len(udata),
                                       NFTNL_UDATA_RULE_COMMENT);
        r.key += " comment " + r.comment;
    }
    return r;
}

} // namespace

std::optional<DecodedRule> decode_rule(Bytes message) {
    const detail::MessageView view(message);
    DecodedRule out;
    AttrTable attrs(kRulePolicy);
    const nlmsghdr* checked = nft_header(view, NFT_MSG_NEWRULE, out.family);
    if (checked == nullptr || !attrs.parse(checked, sizeof(nfgenmsg)) ||
        attrs[NFTA_RULE_TABLE] == nullptr || attrs[NFTA_RULE_CHAIN] == nullptr) {
        return std::nullopt;
    }
    out.table = mnl_attr_get_str(attrs[NFTA_RULE_TABLE]);
    if (!rule_ok(checked)) {
        out.rule = opaque_rule(attrs);
        return out;
    }
    auto r = make<RulePtr>(nftnl_rule_alloc);
    if (nftnl_rule_nlmsg_parse(checked, r.get()) < 0) {
        out.rule = opaque_rule(attrs);
        return out;
    }
    out.rule = render_rule(r.get());
    return out;
}

} // namespace memguard::nft
