#include "render.hpp"

#include <netinet/in.h> // before the linux/ headers, which then skip their own in.h

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>

#include <array>
#include <cstring>

namespace memguard::nft {

namespace {

struct IterDestroy {
    void operator()(nftnl_expr_iter* it) const { nftnl_expr_iter_destroy(it); }
};

// What the rule has loaded into reg 1 so far, as nft would name it.
struct State {
    std::string lhs;        // "meta nfproto", "ip saddr", "th dport", "ct state", "iifname"
    std::uint32_t mask = 0; // ct state or status bits kept by a bitwise
    bool ipv6 = false;
    bool fib_present = false; // the fib lookup loaded only whether there is a route
    RuleModel out;
    std::string text;
};

void word(State& s, const std::string& w) {
    if (!s.text.empty()) {
        s.text += ' ';
    }
    s.text += w;
}

std::string meta_name(std::uint32_t key) {
    switch (key) {
    case NFT_META_NFPROTO:
        return "meta nfproto";
    case NFT_META_L4PROTO:
        return "meta l4proto";
    case NFT_META_IIFNAME:
        return "iifname";
    case NFT_META_OIFNAME:
        return "oifname";
    default:
        return "meta key " + std::to_string(key);
    }
}

std::string payload_name(const nftnl_expr* e) {
    const auto base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
    const auto off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
    const auto len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);
    if (base == NFT_PAYLOAD_NETWORK_HEADER && off == 12 && len == 4) {
        return "ip saddr";
    }
    if (base == NFT_PAYLOAD_NETWORK_HEADER && off == 8 && len == 16) {
        return "ip6 saddr";
    }
    if (base == NFT_PAYLOAD_TRANSPORT_HEADER && off == 2 && len == 2) {
        return "th dport";
    }
    static constexpr std::array<const char*, 4> bases{"@ll", "@nh", "@th", "@ih"};
    return std::string(base < bases.size() ? bases[base] : "@base") + "," +
           std::to_string(off * 8) + "," + std::to_string(len * 8);
}

// "fib saddr . iif oif", "fib daddr type", as nft spells the lookup.
std::string fib_name(const nftnl_expr* e) {
    const auto flags = nftnl_expr_get_u32(e, NFTNL_EXPR_FIB_FLAGS);
    const auto result = nftnl_expr_get_u32(e, NFTNL_EXPR_FIB_RESULT);
    std::string out = "fib";
    const std::array<std::pair<std::uint32_t, const char*>, 5> keys{{
        {NFTA_FIB_F_SADDR, "saddr"},
        {NFTA_FIB_F_DADDR, "daddr"},
        {NFTA_FIB_F_MARK, "mark"},
        {NFTA_FIB_F_IIF, "iif"},
        {NFTA_FIB_F_OIF, "oif"},
    }};
    const char* sep = " ";
    for (const auto& [bit, name] : keys) {
        if ((flags & bit) != 0) {
            out.append(sep).append(name);
            sep = " . ";
        }
    }
    static constexpr std::array<const char*, 4> results{" ?", " oif", " oifname", " type"};
    return out + (result < results.size() ? results[result] : " ?");
}

// "ct state", "ct status", "ct direction", "ct original proto-dst"
std::string ct_name(const nftnl_expr* e) {
    const auto key = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY);
    std::string out = "ct ";
    if (nftnl_expr_is_set(e, NFTNL_EXPR_CT_DIR)) {
        out +=
            nftnl_expr_get_u8(e, NFTNL_EXPR_CT_DIR) == IP_CT_DIR_ORIGINAL ? "original " : "reply ";
    }
    switch (key) {
    case NFT_CT_STATE:
        return out + "state";
    case NFT_CT_STATUS:
        return out + "status";
    case NFT_CT_DIRECTION:
        return out + "direction";
    case NFT_CT_PROTO_DST:
        return out + "proto-dst";
    default:
        return out + "key " + std::to_string(key);
    }
}

std::string hex(const std::uint8_t* data, std::uint32_t len) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out = "0x";
    for (std::uint32_t i = 0; i < len; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 0xF];
    }
    return out;
}

std::string ct_state_words(std::uint32_t bits) {
    std::string out;
    const std::array<std::pair<std::uint32_t, const char*>, 4> names{{
        {NF_CT_STATE_INVALID_BIT, "invalid"},
        {NF_CT_STATE_BIT(IP_CT_ESTABLISHED), "established"},
        {NF_CT_STATE_BIT(IP_CT_RELATED), "related"},
        {NF_CT_STATE_BIT(IP_CT_NEW), "new"},
    }};
    for (const auto& [bit, name] : names) {
        if ((bits & bit) != 0) {
            out.append(out.empty() ? "" : ",").append(name);
        }
    }
    return out.empty() ? hex(reinterpret_cast<const std::uint8_t*>(&bits), 4) : out;
}

std::string cmp_value(State& s, const std::uint8_t* d, std::uint32_t len) {
    if (s.lhs == "meta nfproto" && len == 1) {
        return d[0] == NFPROTO_IPV4 ? "ipv4" : d[0] == NFPROTO_IPV6 ? "ipv6" : std::to_string(d[0]);
    }
    if (s.lhs == "meta l4proto" && len == 1) {
        s.out.l4proto = d[0];
        return d[0] == IPPROTO_TCP ? "tcp" : d[0] == IPPROTO_UDP ? "udp" : std::to_string(d[0]);
    }
    if (s.lhs == "ct direction" && len == 1) {
        return d[0] == IP_CT_DIR_ORIGINAL ? "original" : d[0] == IP_CT_DIR_REPLY ? "reply" : "?";
    }
    if ((s.lhs == "th dport" || s.lhs == "ct original proto-dst") && len == 2) {
        const auto port = static_cast<std::uint16_t>((d[0] << 8) | d[1]);
        s.out.dport = port;
        return std::to_string(port);
    }
    std::uint32_t u32 = 0;
    if (len == sizeof u32) {
        std::memcpy(&u32, d, sizeof u32); // fib's results are host-order u32s
    }
    if (s.lhs.starts_with("fib") && s.fib_present && len == sizeof u32) {
        return u32 == 0 ? "missing" : "exists";
    }
    if (s.lhs.starts_with("fib") && s.lhs.ends_with(" type") && len == sizeof u32) {
        return u32 == RTN_LOCAL ? "local" : std::to_string(u32);
    }
    if ((s.lhs == "iifname" || s.lhs == "oifname") && len > 0) {
        return '"' +
               std::string(reinterpret_cast<const char*>(d),
                           strnlen(reinterpret_cast<const char*>(d), len)) +
               '"';
    }
    return hex(d, len);
}

void render_cmp(State& s, const nftnl_expr* e) {
    ++s.out.matches;
    std::uint32_t len = 0;
    const auto* d = static_cast<const std::uint8_t*>(nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len));
    const auto op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP);
    if (s.lhs == "ct state" && op == NFT_CMP_NEQ && s.mask != 0) {
        word(s, "ct state " + ct_state_words(s.mask));
        return;
    }
    if (s.lhs == "ct status" && op == NFT_CMP_NEQ && s.mask == IPS_DST_NAT) {
        word(s, "ct status dnat");
        return;
    }
    static constexpr std::array<const char*, 6> ops{"", "!= ", "< ", "<= ", "> ", ">= "};
    word(s, s.lhs + " " + (op < ops.size() ? ops[op] : "? ") + (d ? cmp_value(s, d, len) : "?"));
}

void render_verdict(State& s, const nftnl_expr* e) {
    if (!nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT)) {
        word(s, "immediate");
        return;
    }
    const auto code = static_cast<int>(nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT));
    const char* chain = nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN)
                            ? nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN)
                            : "";
    switch (code) {
    case NF_ACCEPT:
        s.out.accepts = true;
        return word(s, "accept");
    case NF_DROP:
        s.out.blocks = true;
        return word(s, "drop");
    case NFT_RETURN:
        return word(s, "return");
    case NFT_CONTINUE:
        return word(s, "continue");
    case NFT_JUMP:
        s.out.jump = chain;
        return word(s, std::string("jump ") + chain);
    case NFT_GOTO:
        s.out.jump = chain;
        return word(s, std::string("goto ") + chain);
    default:
        return word(s, "verdict " + std::to_string(code));
    }
}

void render_reject(State& s, const nftnl_expr* e) {
    s.out.blocks = true;
    const auto type = nftnl_expr_get_u32(e, NFTNL_EXPR_REJECT_TYPE);
    const auto code = nftnl_expr_get_u8(e, NFTNL_EXPR_REJECT_CODE);
    if (type == NFT_REJECT_TCP_RST) {
        return word(s, "reject with tcp reset");
    }
    if (type == NFT_REJECT_ICMP_UNREACH && code == (s.ipv6 ? 4 : 3)) {
        return word(s, s.ipv6 ? "reject with icmpv6 port-unreachable"
                              : "reject with icmp port-unreachable");
    }
    word(s, "reject type " + std::to_string(type) + " code " + std::to_string(code));
}

void render_one(State& s, const nftnl_expr* e, const std::string& name) {
    if (name == "meta") {
        s.lhs = meta_name(nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY));
    } else if (name == "payload") {
        s.lhs = payload_name(e);
    } else if (name == "fib") {
        s.lhs = fib_name(e);
        s.fib_present = (nftnl_expr_get_u32(e, NFTNL_EXPR_FIB_FLAGS) & NFTA_FIB_F_PRESENT) != 0;
    } else if (name == "ct") {
        s.lhs = ct_name(e);
    } else if (name == "bitwise") {
        std::uint32_t len = 0;
        const void* mask = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &len);
        s.mask = 0;
        if (mask != nullptr && len == sizeof s.mask) {
            std::memcpy(&s.mask, mask, sizeof s.mask);
        }
    } else if (name == "cmp") {
        render_cmp(s, e);
    } else if (name == "lookup") {
        const char* set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
        ++s.out.matches;
        s.out.set = set != nullptr ? set : "";
        const bool inv = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS) &&
                         (nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) & NFT_LOOKUP_F_INV) != 0;
        word(s, s.lhs + (inv ? " != @" : " @") + (set != nullptr ? set : "?"));
    } else if (name == "immediate") {
        render_verdict(s, e);
    } else if (name == "counter") {
        s.out.counted = true;
        s.out.packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
        s.out.bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
        word(s, "counter packets " + std::to_string(s.out.packets) + " bytes " +
                    std::to_string(s.out.bytes));
    } else if (name == "limit") {
        word(s, "limit rate " + std::to_string(nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_RATE)) +
                    "/second burst " +
                    std::to_string(nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_BURST)) + " packets");
    } else if (name == "log") {
        const char* prefix = nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX);
        word(s, std::string("log prefix \"") + (prefix != nullptr ? prefix : "") + "\" group " +
                    std::to_string(nftnl_expr_get_u16(e, NFTNL_EXPR_LOG_GROUP)));
    } else if (name == "reject") {
        render_reject(s, e);
    } else {
        word(s, "[" + name + "]");
    }
}

void add_key(State& s, const nftnl_expr* e, const std::string& name) {
    if (name == "counter") {
        s.out.key += "[ counter ]";
        return;
    }
    std::array<char, 512> buf{};
    nftnl_expr_snprintf(buf.data(), buf.size(), e, NFTNL_OUTPUT_DEFAULT, 0);
    s.out.key += "[ " + name + " " + buf.data() + "]";
}

} // namespace

RuleModel render_rule(const nftnl_rule* rule) {
    State s;
    if (nftnl_rule_is_set(rule, NFTNL_RULE_CHAIN)) {
        s.out.chain = nftnl_rule_get_str(rule, NFTNL_RULE_CHAIN);
    }
    s.ipv6 = !s.out.chain.empty() && s.out.chain.back() == '6';
    if (nftnl_rule_is_set(rule, NFTNL_RULE_HANDLE)) {
        s.out.handle = nftnl_rule_get_u64(rule, NFTNL_RULE_HANDLE);
    }
    if (nftnl_rule_is_set(rule, NFTNL_RULE_USERDATA)) {
        std::uint32_t len = 0;
        const void* data = nftnl_rule_get_data(rule, NFTNL_RULE_USERDATA, &len);
        s.out.comment = comment_from_udata(data, len, NFTNL_UDATA_RULE_COMMENT);
    }
    const std::unique_ptr<nftnl_expr_iter, IterDestroy> it(nftnl_expr_iter_create(rule));
    if (!it) {
        throw std::bad_alloc();
    }
    for (nftnl_expr* e = nftnl_expr_iter_next(it.get()); e != nullptr;
         e = nftnl_expr_iter_next(it.get())) {
        const char* n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
        const std::string name = n != nullptr ? n : "?";
        add_key(s, e, name);
        render_one(s, e, name);
    }
    if (!s.out.comment.empty()) {
        word(s, "comment \"" + s.out.comment + "\"");
        s.out.key += " comment " + s.out.comment;
    }
    s.out.text = s.text;
    return s.out;
}

} // namespace memguard::nft
