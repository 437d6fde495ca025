#include "exprs.hpp"

#include <linux/netfilter/nf_tables.h>

#include <string>

namespace memguard::nft::expr {

namespace {

ExprPtr alloc(const char* name) {
    return make<ExprPtr>([name] { return nftnl_expr_alloc(name); });
}

// The rule takes ownership of the expression.
void add(nftnl_rule* rule, ExprPtr e) {
    nftnl_rule_add_expr(rule, e.release());
}

ExprPtr ct_load(std::uint32_t key) {
    auto e = alloc("ct");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_KEY, key);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_DREG, NFT_REG_1);
    return e;
}

} // namespace

void meta(nftnl_rule* rule, std::uint32_t key) {
    auto e = alloc("meta");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_DREG, NFT_REG_1);
    add(rule, std::move(e));
}

void payload(nftnl_rule* rule, std::uint32_t base, std::uint32_t offset, std::uint32_t len) {
    auto e = alloc("payload");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_LEN, len);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
    add(rule, std::move(e));
}

void ct(nftnl_rule* rule, std::uint32_t key) {
    add(rule, ct_load(key));
}

void ct_tuple(nftnl_rule* rule, std::uint32_t key, std::uint8_t direction) {
    auto e = ct_load(key);
    nftnl_expr_set_u8(e.get(), NFTNL_EXPR_CT_DIR, direction);
    add(rule, std::move(e));
}

void fib(nftnl_rule* rule, std::uint32_t result, std::uint32_t flags) {
    auto e = alloc("fib");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_FIB_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_FIB_RESULT, result);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_FIB_FLAGS, flags);
    add(rule, std::move(e));
}

void bitwise_and(nftnl_rule* rule, std::span<const std::uint8_t> mask) {
    auto e = alloc("bitwise");
    const std::basic_string<std::uint8_t> zero(mask.size(), 0);
    const auto len = static_cast<std::uint32_t>(mask.size());
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_LEN, len);
    nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_MASK, mask.data(), len);
    nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_XOR, zero.data(), len);
    add(rule, std::move(e));
}

void cmp(nftnl_rule* rule, std::uint32_t op, std::span<const std::uint8_t> data) {
    auto e = alloc("cmp");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e.get(), NFTNL_EXPR_CMP_DATA, data.data(),
                   static_cast<std::uint32_t>(data.size()));
    add(rule, std::move(e));
}

void lookup(nftnl_rule* rule, std::string_view set, std::uint32_t set_id) {
    auto e = alloc("lookup");
    const std::string name(set);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
    nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOOKUP_SET, name.c_str());
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SET_ID, set_id);
    // The kernel always dumps the flags; set them so a rule we built renders as it reads back.
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_FLAGS, 0);
    add(rule, std::move(e));
}

void verdict(nftnl_rule* rule, int code, std::string_view chain) {
    auto e = alloc("immediate");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, static_cast<std::uint32_t>(code));
    if (!chain.empty()) {
        const std::string name(chain);
        nftnl_expr_set_str(e.get(), NFTNL_EXPR_IMM_CHAIN, name.c_str());
    }
    add(rule, std::move(e));
}

void counter(nftnl_rule* rule) {
    add(rule, alloc("counter"));
}

void limit(nftnl_rule* rule, std::uint64_t per_second, std::uint32_t burst) {
    auto e = alloc("limit");
    nftnl_expr_set_u64(e.get(), NFTNL_EXPR_LIMIT_RATE, per_second);
    nftnl_expr_set_u64(e.get(), NFTNL_EXPR_LIMIT_UNIT, 1); // seconds
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LIMIT_BURST, burst);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
    add(rule, std::move(e));
}

void log(nftnl_rule* rule, std::string_view prefix, std::uint16_t group) {
    auto e = alloc("log");
    const std::string text(prefix);
    nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOG_PREFIX, text.c_str());
    nftnl_expr_set_u16(e.get(), NFTNL_EXPR_LOG_GROUP, group);
    add(rule, std::move(e));
}

void reject(nftnl_rule* rule, std::uint32_t type, std::uint8_t code) {
    auto e = alloc("reject");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_REJECT_TYPE, type);
    nftnl_expr_set_u8(e.get(), NFTNL_EXPR_REJECT_CODE, code);
    add(rule, std::move(e));
}

} // namespace memguard::nft::expr
