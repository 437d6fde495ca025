// The attribute types of every expression libnftnl 1.2.4 parses, as its src/expr/*.c validate
// them (each a callback that exit()s on a mismatch) and the kernel's dump functions send them.
// Strings are asked to end in their NUL here even where libnftnl only asks for a string: it
// strdup()s them. Register data (nft_data) is a nest, where libnftnl asks only for bytes.
#include "rule_policy.hpp"

#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>

#include <algorithm>
#include <array>

namespace memguard::nft {

Policy::Policy(std::span<const Field> fields) {
    std::uint16_t max = 0;
    for (const Field& f : fields) {
        max = std::max(max, f.type);
    }
    kinds_.assign(std::size_t{max} + 1, Kind::none);
    for (const Field& f : fields) {
        kinds_[f.type] = f.kind;
    }
}

namespace {

using enum Kind;

// The u32-only expressions: registers, keys, flags.
Policy u32s(std::initializer_list<std::uint16_t> types) {
    std::vector<Field> fields;
    for (const auto t : types) {
        fields.push_back({t, u32});
    }
    return Policy(fields);
}

} // namespace

std::span<const ExprPolicy> expression_policies() {
    static const std::array<ExprPolicy, 39> policies{{
        {"bitwise",
         {{NFTA_BITWISE_SREG, u32},
          {NFTA_BITWISE_DREG, u32},
          {NFTA_BITWISE_LEN, u32},
          {NFTA_BITWISE_MASK, data},
          {NFTA_BITWISE_XOR, data},
          {NFTA_BITWISE_OP, u32},
          {NFTA_BITWISE_DATA, data}}},
        {"byteorder", u32s({NFTA_BYTEORDER_SREG, NFTA_BYTEORDER_DREG, NFTA_BYTEORDER_OP,
                            NFTA_BYTEORDER_LEN, NFTA_BYTEORDER_SIZE})},
        {"cmp", {{NFTA_CMP_SREG, u32}, {NFTA_CMP_OP, u32}, {NFTA_CMP_DATA, data}}},
        {"connlimit", u32s({NFTA_CONNLIMIT_COUNT, NFTA_CONNLIMIT_FLAGS})},
        {"counter", {{NFTA_COUNTER_BYTES, u64}, {NFTA_COUNTER_PACKETS, u64}}},
        {"ct",
         {{NFTA_CT_DREG, u32}, {NFTA_CT_KEY, u32}, {NFTA_CT_DIRECTION, u8}, {NFTA_CT_SREG, u32}}},
        {"dup", u32s({NFTA_DUP_SREG_ADDR, NFTA_DUP_SREG_DEV})},
        {"dynset",
         {{NFTA_DYNSET_SET_NAME, str},
          {NFTA_DYNSET_SET_ID, u32},
          {NFTA_DYNSET_OP, u32},
          {NFTA_DYNSET_SREG_KEY, u32},
          {NFTA_DYNSET_SREG_DATA, u32},
          {NFTA_DYNSET_TIMEOUT, u64},
          {NFTA_DYNSET_EXPR, expr},
          {NFTA_DYNSET_FLAGS, u32},
          {NFTA_DYNSET_EXPRESSIONS, exprs}}},
        {"exthdr",
         {{NFTA_EXTHDR_DREG, u32},
          {NFTA_EXTHDR_TYPE, u8},
          {NFTA_EXTHDR_OFFSET, u32},
          {NFTA_EXTHDR_LEN, u32},
          {NFTA_EXTHDR_FLAGS, u32},
          {NFTA_EXTHDR_OP, u32},
          {NFTA_EXTHDR_SREG, u32}}},
        {"fib", u32s({NFTA_FIB_DREG, NFTA_FIB_RESULT, NFTA_FIB_FLAGS})},
        {"flow_offload", {{NFTA_FLOW_TABLE_NAME, str}}},
        {"fwd", u32s({NFTA_FWD_SREG_DEV, NFTA_FWD_SREG_ADDR, NFTA_FWD_NFPROTO})},
        {"hash", u32s({NFTA_HASH_SREG, NFTA_HASH_DREG, NFTA_HASH_LEN, NFTA_HASH_MODULUS,
                       NFTA_HASH_SEED, NFTA_HASH_OFFSET, NFTA_HASH_TYPE})},
        {"immediate", {{NFTA_IMMEDIATE_DREG, u32}, {NFTA_IMMEDIATE_DATA, data}}},
        {"last", {{NFTA_LAST_SET, u32}, {NFTA_LAST_MSECS, u64}}},
        {"limit",
         {{NFTA_LIMIT_RATE, u64},
          {NFTA_LIMIT_UNIT, u64},
          {NFTA_LIMIT_BURST, u32},
          {NFTA_LIMIT_TYPE, u32},
          {NFTA_LIMIT_FLAGS, u32}}},
        {"log",
         {{NFTA_LOG_GROUP, u16},
          {NFTA_LOG_PREFIX, str},
          {NFTA_LOG_SNAPLEN, u32},
          {NFTA_LOG_QTHRESHOLD, u16},
          {NFTA_LOG_LEVEL, u32},
          {NFTA_LOG_FLAGS, u32}}},
        {"lookup",
         {{NFTA_LOOKUP_SET, str},
          {NFTA_LOOKUP_SREG, u32},
          {NFTA_LOOKUP_DREG, u32},
          {NFTA_LOOKUP_SET_ID, u32},
          {NFTA_LOOKUP_FLAGS, u32}}},
        {"masq", u32s({NFTA_MASQ_FLAGS, NFTA_MASQ_REG_PROTO_MIN, NFTA_MASQ_REG_PROTO_MAX})},
        {"match", {{NFTA_MATCH_NAME, str}, {NFTA_MATCH_REV, u32}, {NFTA_MATCH_INFO, binary}}},
        {"meta", u32s({NFTA_META_DREG, NFTA_META_KEY, NFTA_META_SREG})},
        {"nat", u32s({NFTA_NAT_TYPE, NFTA_NAT_FAMILY, NFTA_NAT_REG_ADDR_MIN, NFTA_NAT_REG_ADDR_MAX,
                      NFTA_NAT_REG_PROTO_MIN, NFTA_NAT_REG_PROTO_MAX, NFTA_NAT_FLAGS})},
        {"notrack", {}},
        {"numgen", u32s({NFTA_NG_DREG, NFTA_NG_MODULUS, NFTA_NG_TYPE, NFTA_NG_OFFSET})},
        {"objref",
         {{NFTA_OBJREF_IMM_TYPE, u32},
          {NFTA_OBJREF_IMM_NAME, str},
          {NFTA_OBJREF_SET_SREG, u32},
          {NFTA_OBJREF_SET_NAME, str},
          {NFTA_OBJREF_SET_ID, u32}}},
        {"osf", {{NFTA_OSF_DREG, u32}, {NFTA_OSF_TTL, u8}, {NFTA_OSF_FLAGS, u32}}},
        {"payload", u32s({NFTA_PAYLOAD_DREG, NFTA_PAYLOAD_BASE, NFTA_PAYLOAD_OFFSET,
                          NFTA_PAYLOAD_LEN, NFTA_PAYLOAD_SREG, NFTA_PAYLOAD_CSUM_TYPE,
                          NFTA_PAYLOAD_CSUM_OFFSET, NFTA_PAYLOAD_CSUM_FLAGS})},
        {"queue",
         {{NFTA_QUEUE_NUM, u16},
          {NFTA_QUEUE_TOTAL, u16},
          {NFTA_QUEUE_FLAGS, u16},
          {NFTA_QUEUE_SREG_QNUM, u32}}},
        {"quota", {{NFTA_QUOTA_BYTES, u64}, {NFTA_QUOTA_FLAGS, u32}, {NFTA_QUOTA_CONSUMED, u64}}},
        {"range",
         {{NFTA_RANGE_SREG, u32},
          {NFTA_RANGE_OP, u32},
          {NFTA_RANGE_FROM_DATA, data},
          {NFTA_RANGE_TO_DATA, data}}},
        {"redir", u32s({NFTA_REDIR_REG_PROTO_MIN, NFTA_REDIR_REG_PROTO_MAX, NFTA_REDIR_FLAGS})},
        {"reject", {{NFTA_REJECT_TYPE, u32}, {NFTA_REJECT_ICMP_CODE, u8}}},
        {"rt", u32s({NFTA_RT_DREG, NFTA_RT_KEY})},
        {"socket", u32s({NFTA_SOCKET_KEY, NFTA_SOCKET_DREG, NFTA_SOCKET_LEVEL})},
        {"synproxy",
         {{NFTA_SYNPROXY_MSS, u16}, {NFTA_SYNPROXY_WSCALE, u8}, {NFTA_SYNPROXY_FLAGS, u32}}},
        {"target", {{NFTA_TARGET_NAME, str}, {NFTA_TARGET_REV, u32}, {NFTA_TARGET_INFO, binary}}},
        {"tproxy", u32s({NFTA_TPROXY_FAMILY, NFTA_TPROXY_REG_ADDR, NFTA_TPROXY_REG_PORT})},
        {"tunnel", u32s({NFTA_TUNNEL_KEY, NFTA_TUNNEL_DREG, NFTA_TUNNEL_MODE})},
        {"xfrm",
         {{NFTA_XFRM_DREG, u32},
          {NFTA_XFRM_KEY, u32},
          {NFTA_XFRM_DIR, u8},
          {NFTA_XFRM_SPNUM, u32}}},
    }};
    return policies;
}

} // namespace memguard::nft
