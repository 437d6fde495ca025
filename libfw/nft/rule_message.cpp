#include "rule_message.hpp"

#include "decode_detail.hpp"
#include "rule_policy.hpp"

#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <string_view>

namespace memguard::nft {

namespace {

using detail::AttrPolicy;
using detail::AttrTable;

constexpr std::size_t kMaxValue = 64; // NFT_DATA_VALUE_MAXLEN

// Where a walk over attributes ended, to tell a nest its attributes fill from one that
// mnl_attr_parse left early: libmnl stops quietly at an attribute that overruns its nest.
class Cover {
public:
    explicit Cover(const void* begin) : end_(static_cast<const char*>(begin)) {}
    void saw(const nlattr* a) { end_ = reinterpret_cast<const char*>(a) + MNL_ALIGN(a->nla_len); }
    [[nodiscard]] bool fills(const void* begin, std::size_t len) const {
        return end_ - static_cast<const char*>(begin) ==
               static_cast<std::ptrdiff_t>(MNL_ALIGN(len));
    }

private:
    const char* end_;
};

class Check {
public:
    explicit Check(ExpressionNames accepted) : accepted_(accepted) {}

    bool rule(const nlmsghdr* nlh);
    [[nodiscard]] const std::string& error() const { return error_; }

private:
    bool fail(std::string why) {
        if (error_.empty()) {
            error_ = std::move(why);
        }
        return false;
    }
    // Each attribute inside `nest` through `f`, and nothing left over.
    template <typename F> bool whole(const nlattr* nest, std::string_view where, F f) {
        Cover cover(mnl_attr_get_payload(nest));
        const bool each = each_nested(nest, [&](const nlattr* a) {
            cover.saw(a);
            return f(a);
        });
        if (each && !cover.fills(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest))) {
            return fail(std::string(where) + ": an attribute overruns its nest");
        }
        return each;
    }
    bool rule_attr(const nlattr* a);
    bool expression_list(const nlattr* list, unsigned depth);
    bool expression(const nlattr* item, unsigned depth, bool listed = true);
    bool attribute(const nlattr* a, Kind kind, const std::string& where, unsigned depth);
    bool value_or_verdict(const nlattr* a, const std::string& where);
    bool verdict(const nlattr* a, const std::string& where);
    bool fib(const nlattr* data, const std::string& where);

    ExpressionNames accepted_;
    std::string error_;
    unsigned count_ = 0; // expressions seen, for the errors
};

bool validate(const nlattr* a, mnl_attr_data_type type) {
    return mnl_attr_validate(a, type) >= 0;
}

std::string type_of(const nlattr* a) {
    return "attribute " + std::to_string(mnl_attr_get_type(a));
}

bool Check::rule(const nlmsghdr* nlh) {
    const void* begin = mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg));
    Cover cover(begin);
    const bool each = each_attr(nlh, sizeof(nfgenmsg), [&](const nlattr* a) {
        cover.saw(a);
        return rule_attr(a);
    });
    const std::size_t len =
        nlh->nlmsg_len - MNL_NLMSG_HDRLEN - MNL_ALIGN(static_cast<unsigned>(sizeof(nfgenmsg)));
    if (each && !cover.fills(begin, len)) {
        return fail("rule: an attribute overruns the message");
    }
    return each;
}

// Every attribute of the rule of a type libnftnl reads, and of that type.
bool Check::rule_attr(const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
    case NFTA_RULE_TABLE:
    case NFTA_RULE_CHAIN:
        return validate(a, MNL_TYPE_NUL_STRING) || fail("rule: table or chain not a string");
    case NFTA_RULE_HANDLE:
    case NFTA_RULE_POSITION:
        return validate(a, MNL_TYPE_U64) || fail("rule: handle or position not a u64");
    case NFTA_RULE_ID:
    case NFTA_RULE_POSITION_ID:
        return validate(a, MNL_TYPE_U32) || fail("rule: id not a u32");
    case NFTA_RULE_USERDATA:
        return mnl_attr_get_payload_len(a) <= NFT_USERDATA_MAXLEN ||
               fail("rule: userdata longer than " + std::to_string(NFT_USERDATA_MAXLEN));
    case NFTA_RULE_EXPRESSIONS:
        return (validate(a, MNL_TYPE_NESTED) || fail("rule: expressions not a nest")) &&
               expression_list(a, 0);
    default: // NFTA_RULE_COMPAT and anything newer: not for libnftnl
        return fail("rule: unexpected " + type_of(a));
    }
}

bool Check::expression_list(const nlattr* list, unsigned depth) {
    return whole(list, "expressions", [&](const nlattr* item) { return expression(item, depth); });
}

constexpr AttrPolicy<NFTA_EXPR_MAX + 1> kExprPolicy = [] {
    AttrPolicy<NFTA_EXPR_MAX + 1> p{};
    p[NFTA_EXPR_NAME] = {MNL_TYPE_NUL_STRING, 0};
    p[NFTA_EXPR_DATA] = {MNL_TYPE_NESTED, 0};
    return p;
}();

// NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA { the expression's own attributes } }; one
// not `listed` (dynset's NFTA_DYNSET_EXPR) has a type of its own.
bool Check::expression(const nlattr* item, unsigned depth, bool listed) {
    std::string where = "expression " + std::to_string(++count_);
    if ((listed && mnl_attr_get_type(item) != NFTA_LIST_ELEM) || !validate(item, MNL_TYPE_NESTED)) {
        return fail(where + ": not a nested list element");
    }
    AttrTable expr(kExprPolicy);
    const bool known = whole(item, where, [&](const nlattr* a) {
        const auto type = mnl_attr_get_type(a);
        return type == NFTA_EXPR_NAME || type == NFTA_EXPR_DATA ||
               fail(where + ": unexpected " + type_of(a));
    });
    if (!known || !expr.parse(item) || expr[NFTA_EXPR_NAME] == nullptr) {
        return fail(where + ": no name, or a name or data of the wrong type");
    }
    const std::string_view name = mnl_attr_get_str(expr[NFTA_EXPR_NAME]);
    where += " (" + std::string(name) + ")";
    const auto policies = expression_policies();
    const auto policy = std::ranges::find(policies, name, &ExprPolicy::name);
    if (policy == policies.end() ||
        (!accepted_.empty() && std::ranges::find(accepted_, name) == accepted_.end())) {
        return fail(where + ": not an expression read here");
    }
    if (depth > 0 && name == "dynset") { // the kernel lets only stateful ones sit in a dynset
        return fail(where + ": inside another dynset");
    }
    const nlattr* data = expr[NFTA_EXPR_DATA];
    const bool attrs_ok =
        data == nullptr || whole(data, where, [&](const nlattr* a) {
            return attribute(a, policy->attrs[mnl_attr_get_type(a)], where, depth);
        });
    return attrs_ok && (name != "fib" || fib(data, where));
}

bool Check::attribute(const nlattr* a, Kind kind, const std::string& where, unsigned depth) {
    const std::string what = where + ": " + type_of(a);
    switch (kind) {
    case Kind::u8:
        return validate(a, MNL_TYPE_U8) || fail(what + " is not a u8");
    case Kind::u16:
        return validate(a, MNL_TYPE_U16) || fail(what + " is not a u16");
    case Kind::u32:
        return validate(a, MNL_TYPE_U32) || fail(what + " is not a u32");
    case Kind::u64:
        return validate(a, MNL_TYPE_U64) || fail(what + " is not a u64");
    case Kind::str:
        return validate(a, MNL_TYPE_NUL_STRING) || fail(what + " is not a string");
    case Kind::binary:
        return true;
    case Kind::data:
        return (validate(a, MNL_TYPE_NESTED) || fail(what + " is not a nest")) &&
               value_or_verdict(a, what);
    case Kind::expr:
    case Kind::exprs:
        if (depth > 0 || !validate(a, MNL_TYPE_NESTED)) {
            return fail(what + " is not a nest of expressions, or nested too deep");
        }
        return kind == Kind::expr ? expression(a, depth + 1, false) : expression_list(a, depth + 1);
    case Kind::none:
        break;
    }
    return fail(what + " is not one libnftnl reads");
}

// nft_data: NFTA_DATA_VALUE (1 to 64 bytes) or NFTA_DATA_VERDICT { code, chain }.
bool Check::value_or_verdict(const nlattr* a, const std::string& where) {
    return whole(a, where, [&](const nlattr* d) {
        switch (mnl_attr_get_type(d)) {
        case NFTA_DATA_VALUE:
            return (mnl_attr_get_payload_len(d) > 0 && mnl_attr_get_payload_len(d) <= kMaxValue) ||
                   fail(where + ": a value of " + std::to_string(mnl_attr_get_payload_len(d)) +
                        " bytes");
        case NFTA_DATA_VERDICT:
            return (validate(d, MNL_TYPE_NESTED) || fail(where + ": verdict not a nest")) &&
                   verdict(d, where);
        default:
            return fail(where + ": unexpected data " + type_of(d));
        }
    });
}

// A verdict has a code, and a jump or goto names its chain.
bool Check::verdict(const nlattr* a, const std::string& where) {
    const bool fields = whole(a, where, [&](const nlattr* v) {
        const auto type = mnl_attr_get_type(v);
        return (type == NFTA_VERDICT_CODE && validate(v, MNL_TYPE_U32)) ||
               (type == NFTA_VERDICT_CHAIN && validate(v, MNL_TYPE_NUL_STRING)) ||
               fail(where + ": verdict " + type_of(v) + " malformed");
    });
    static constexpr AttrPolicy<NFTA_VERDICT_MAX + 1> kPolicy = [] {
        AttrPolicy<NFTA_VERDICT_MAX + 1> p{};
        p[NFTA_VERDICT_CODE] = {MNL_TYPE_U32, 0};
        p[NFTA_VERDICT_CHAIN] = {MNL_TYPE_NUL_STRING, 0};
        return p;
    }();
    AttrTable attrs(kPolicy);
    if (!fields || !attrs.parse(a) || attrs[NFTA_VERDICT_CODE] == nullptr) {
        return fail(where + ": verdict without a code");
    }
    const auto code = static_cast<std::int32_t>(
        detail::load_be32(mnl_attr_get_payload(attrs[NFTA_VERDICT_CODE])));
    return (code != NFT_JUMP && code != NFT_GOTO) || attrs[NFTA_VERDICT_CHAIN] != nullptr ||
           fail(where + ": jump or goto without a chain");
}

// libnftnl prints fib's result from a table without an entry for 0 (NFT_FIB_RESULT_UNSPEC):
// a fib expression must have all three attributes, a result it names and flags it knows.
bool Check::fib(const nlattr* data, const std::string& where) {
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
        return fail(where + ": without a register, result or flags");
    }
    const std::uint32_t result = detail::load_be32(mnl_attr_get_payload(attrs[NFTA_FIB_RESULT]));
    const std::uint32_t flags = detail::load_be32(mnl_attr_get_payload(attrs[NFTA_FIB_FLAGS]));
    return (result >= NFT_FIB_RESULT_OIF && result <= NFT_FIB_RESULT_ADDRTYPE &&
            (flags & ~kKnownFlags) == 0) ||
           fail(where + ": unknown result or flags");
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

std::vector<std::uint8_t> payload_of(const nlattr* a) {
    const auto* p = static_cast<const std::uint8_t*>(mnl_attr_get_payload(a));
    return {p, p + mnl_attr_get_payload_len(a)};
}

// A refused rule's own bytes, for a caller that keeps it as an opaque rule.
void keep_bytes(const AttrTable<NFTA_RULE_MAX + 1>& attrs, RuleMessage& out) {
    if (const nlattr* handle = attrs[NFTA_RULE_HANDLE]) {
        out.handle = be64toh(mnl_attr_get_u64(handle));
    }
    if (const nlattr* exprs = attrs[NFTA_RULE_EXPRESSIONS]) {
        out.expressions = payload_of(exprs);
    }
    if (const nlattr* udata = attrs[NFTA_RULE_USERDATA]) {
        out.userdata = payload_of(udata);
    }
}

} // namespace

RuleRead read_rule_message(Bytes message, ExpressionNames accepted) {
    const detail::MessageView view(message);
    RuleMessage out;
    AttrTable attrs(kRulePolicy);
    const nlmsghdr* nlh = nft_header(view, NFT_MSG_NEWRULE, out.family);
    if (nlh == nullptr) {
        return {std::nullopt, "not one whole nftables rule message"};
    }
    if (!attrs.parse(nlh, sizeof(nfgenmsg)) || attrs[NFTA_RULE_TABLE] == nullptr ||
        attrs[NFTA_RULE_CHAIN] == nullptr) {
        return {std::nullopt, "rule without a table or chain, or one malformed"};
    }
    out.table = mnl_attr_get_str(attrs[NFTA_RULE_TABLE]);
    out.chain = mnl_attr_get_str(attrs[NFTA_RULE_CHAIN]);
    Check check(accepted);
    if (!check.rule(nlh)) {
        out.error = check.error();
        keep_bytes(attrs, out);
        return {std::move(out), {}};
    }
    auto rule = make<RulePtr>(nftnl_rule_alloc);
    if (nftnl_rule_nlmsg_parse(nlh, rule.get()) < 0) {
        out.error = "libnftnl refused the rule";
        keep_bytes(attrs, out);
        return {std::move(out), {}};
    }
    out.rule = std::move(rule);
    return {std::move(out), {}};
}

} // namespace memguard::nft
