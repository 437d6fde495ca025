#include "decode.hpp"

#include "handles.hpp"
#include "netlink/detail.hpp"
#include "render.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <memory>

namespace memguard::nft {

namespace {

namespace detail = netlink::detail;

constexpr std::uint16_t nft_type(unsigned msg) {
    return detail::nfnl_type(NFNL_SUBSYS_NFTABLES, msg);
}

// The message's header when it is an nftables message of `msg` with an nfgenmsg; copies the
// family out.
const nlmsghdr* header(const detail::MessageView& view, unsigned msg, std::uint8_t& family) {
    nfgenmsg nfg{};
    const nlmsghdr* nlh = view.get(nft_type(msg), nfg);
    family = nfg.nfgen_family;
    return nlh;
}

} // namespace

std::optional<DecodedTable> decode_table(Bytes message) {
    const detail::MessageView view(message);
    DecodedTable out;
    const nlmsghdr* nlh = header(view, NFT_MSG_NEWTABLE, out.family);
    auto t = make<TablePtr>(nftnl_table_alloc);
    if (nlh == nullptr || nftnl_table_nlmsg_parse(nlh, t.get()) < 0 ||
        !nftnl_table_is_set(t.get(), NFTNL_TABLE_NAME)) {
        return std::nullopt;
    }
    out.table.name = nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME);
    if (nftnl_table_is_set(t.get(), NFTNL_TABLE_FLAGS)) {
        out.table.flags = nftnl_table_get_u32(t.get(), NFTNL_TABLE_FLAGS);
    }
    if (nftnl_table_is_set(t.get(), NFTNL_TABLE_OWNER)) {
        out.table.owner = nftnl_table_get_u32(t.get(), NFTNL_TABLE_OWNER);
    }
    if (nftnl_table_is_set(t.get(), NFTNL_TABLE_USERDATA)) {
        std::uint32_t len = 0;
        const void* data = nftnl_table_get_data(t.get(), NFTNL_TABLE_USERDATA, &len);
        out.table.comment = comment_from_udata(data, len, NFTNL_UDATA_TABLE_COMMENT);
    }
    return out;
}

std::optional<DecodedChain> decode_chain(Bytes message) {
    const detail::MessageView view(message);
    DecodedChain out;
    const nlmsghdr* nlh = header(view, NFT_MSG_NEWCHAIN, out.family);
    auto c = make<ChainPtr>(nftnl_chain_alloc);
    if (nlh == nullptr || nftnl_chain_nlmsg_parse(nlh, c.get()) < 0 ||
        !nftnl_chain_is_set(c.get(), NFTNL_CHAIN_NAME) ||
        !nftnl_chain_is_set(c.get(), NFTNL_CHAIN_TABLE)) {
        return std::nullopt;
    }
    out.table = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE);
    out.chain.name = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME);
    if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_TYPE)) {
        out.chain.type = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TYPE);
    }
    if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_HOOKNUM)) {
        out.chain.hook = nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM);
        out.chain.priority = nftnl_chain_get_s32(c.get(), NFTNL_CHAIN_PRIO);
    }
    if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_POLICY)) {
        out.chain.policy = nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_POLICY);
    }
    if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_USERDATA)) {
        std::uint32_t len = 0;
        const void* data = nftnl_chain_get_data(c.get(), NFTNL_CHAIN_USERDATA, &len);
        out.chain.comment = comment_from_udata(data, len, NFTNL_UDATA_CHAIN_COMMENT);
    }
    return out;
}

std::optional<DecodedSet> decode_set(Bytes message) {
    const detail::MessageView view(message);
    DecodedSet out;
    const nlmsghdr* nlh = header(view, NFT_MSG_NEWSET, out.family);
    auto s = make<SetPtr>(nftnl_set_alloc);
    if (nlh == nullptr || nftnl_set_nlmsg_parse(nlh, s.get()) < 0 ||
        !nftnl_set_is_set(s.get(), NFTNL_SET_NAME) || !nftnl_set_is_set(s.get(), NFTNL_SET_TABLE)) {
        return std::nullopt;
    }
    out.table = nftnl_set_get_str(s.get(), NFTNL_SET_TABLE);
    out.set.name = nftnl_set_get_str(s.get(), NFTNL_SET_NAME);
    const auto u32 = [&](std::uint16_t attr) {
        return nftnl_set_is_set(s.get(), attr) ? nftnl_set_get_u32(s.get(), attr) : 0U;
    };
    out.set.key_type = u32(NFTNL_SET_KEY_TYPE);
    out.set.key_len = u32(NFTNL_SET_KEY_LEN);
    out.set.flags = u32(NFTNL_SET_FLAGS);
    out.set.family = out.set.key_len == 16 ? Family::ipv6 : Family::ipv4;
    if (nftnl_set_is_set(s.get(), NFTNL_SET_USERDATA)) {
        std::uint32_t len = 0;
        const void* data = nftnl_set_get_data(s.get(), NFTNL_SET_USERDATA, &len);
        out.set.comment = comment_from_udata(data, len, NFTNL_UDATA_SET_COMMENT);
    }
    return out;
}

std::optional<DecodedElements> decode_elements(Bytes message) {
    const detail::MessageView view(message);
    std::uint8_t family = 0;
    const nlmsghdr* nlh = header(view, NFT_MSG_NEWSETELEM, family);
    auto s = make<SetPtr>(nftnl_set_alloc);
    if (nlh == nullptr || nftnl_set_elems_nlmsg_parse(nlh, s.get()) < 0 ||
        !nftnl_set_is_set(s.get(), NFTNL_SET_NAME) || !nftnl_set_is_set(s.get(), NFTNL_SET_TABLE)) {
        return std::nullopt;
    }
    DecodedElements out;
    out.table = nftnl_set_get_str(s.get(), NFTNL_SET_TABLE);
    out.set = nftnl_set_get_str(s.get(), NFTNL_SET_NAME);
    const std::unique_ptr<nftnl_set_elems_iter, FreeWith<nftnl_set_elems_iter_destroy>> it(
        nftnl_set_elems_iter_create(s.get()));
    if (!it) {
        throw std::bad_alloc();
    }
    for (nftnl_set_elem* e = nftnl_set_elems_iter_next(it.get()); e != nullptr;
         e = nftnl_set_elems_iter_next(it.get())) {
        std::uint32_t len = 0;
        const void* key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
        if (key == nullptr || len == 0 || len > sizeof(Address) ||
            (out.key_len != 0 && len != out.key_len)) {
            return std::nullopt;
        }
        out.key_len = len;
        IntervalElement element;
        std::memcpy(element.key.data(), key, len);
        element.end =
            nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
            (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END) != 0;
        out.elements.push_back(element);
    }
    return out;
}

std::optional<DecodedRule> decode_rule(Bytes message) {
    const detail::MessageView view(message);
    DecodedRule out;
    const nlmsghdr* nlh = header(view, NFT_MSG_NEWRULE, out.family);
    auto r = make<RulePtr>(nftnl_rule_alloc);
    if (nlh == nullptr || nftnl_rule_nlmsg_parse(nlh, r.get()) < 0 ||
        !nftnl_rule_is_set(r.get(), NFTNL_RULE_TABLE) ||
        !nftnl_rule_is_set(r.get(), NFTNL_RULE_CHAIN)) {
        return std::nullopt;
    }
    out.table = nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE);
    out.rule = render_rule(r.get());
    return out;
}

std::optional<std::uint32_t> decode_gen(Bytes message) {
    const detail::MessageView view(message);
    nfgenmsg nfg{};
    const nlmsghdr* nlh = view.get(nft_type(NFT_MSG_NEWGEN), nfg);
    static constexpr detail::AttrPolicy<NFTA_GEN_ID + 1> kPolicy = [] {
        detail::AttrPolicy<NFTA_GEN_ID + 1> p{};
        p[NFTA_GEN_ID] = {MNL_TYPE_U32, 0};
        return p;
    }();
    detail::AttrTable attrs(kPolicy);
    if (nlh == nullptr || !attrs.parse(nlh, sizeof(nfgenmsg)) || attrs[NFTA_GEN_ID] == nullptr) {
        return std::nullopt;
    }
    return detail::load_be32(mnl_attr_get_payload(attrs[NFTA_GEN_ID]));
}

EventClass classify_event(Bytes message, std::uint32_t own_portid) {
    const detail::MessageView view(message);
    const nlmsghdr* nlh = view.get();
    nfgenmsg nfg{};
    if (nlh == nullptr || (nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES ||
        (nlh->nlmsg_type & 0xFF) == NFT_MSG_NEWGEN || !view.extra_header(nfg) ||
        nfg.nfgen_family != NFPROTO_INET) {
        return EventClass::unrelated;
    }
    // Attribute 1 names the table in every object message: NFTA_TABLE_NAME, NFTA_CHAIN_TABLE,
    // NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE, NFTA_RULE_TABLE, NFTA_OBJ_TABLE, ...
    static_assert(NFTA_TABLE_NAME == 1 && NFTA_CHAIN_TABLE == 1 && NFTA_SET_TABLE == 1 &&
                  NFTA_SET_ELEM_LIST_TABLE == 1 && NFTA_RULE_TABLE == 1 && NFTA_OBJ_TABLE == 1);
    static constexpr detail::AttrPolicy<2> kPolicy = [] {
        detail::AttrPolicy<2> p{};
        p[1] = {MNL_TYPE_NUL_STRING, 0};
        return p;
    }();
    detail::AttrTable attrs(kPolicy);
    if (!attrs.parse(nlh, sizeof(nfgenmsg)) || attrs[1] == nullptr) {
        return EventClass::unrelated;
    }
    const std::string_view table = mnl_attr_get_str(attrs[1]);
    if (table != kTableName && table != kClosedTableName) {
        return EventClass::unrelated;
    }
    return nlh->nlmsg_pid == own_portid ? EventClass::own : EventClass::foreign;
}

} // namespace memguard::nft
