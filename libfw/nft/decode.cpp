// Tables, chains, sets and elements are read with our own attribute tables (netlink/detail.hpp):
// they carry a handful of attributes, and libnftnl 1.2.4's parsers exit() the process on an
// attribute they find out of range ("nf_tables kernel ABI is broken") — not something a daemon
// may do on bytes it reads. Rules go through libnftnl (decode_rule.cpp) for their expressions.
#include "decode.hpp"

#include "decode_detail.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

namespace memguard::nft {

namespace {

using detail::AttrPolicy;
using detail::AttrTable;

std::string str(const nlattr* a) {
    return a != nullptr ? std::string(mnl_attr_get_str(a)) : std::string();
}

std::uint32_t be32(const nlattr* a) {
    return a != nullptr ? detail::load_be32(mnl_attr_get_payload(a)) : 0;
}

std::string comment(const nlattr* a, std::uint8_t type) {
    return a != nullptr
               ? comment_from_udata(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), type)
               : std::string();
}

template <std::size_t N>
constexpr AttrPolicy<N>
policy(std::initializer_list<std::pair<std::size_t, mnl_attr_data_type>> rules) {
    AttrPolicy<N> p{};
    for (const auto& [type, data] : rules) {
        p[type] = {data, 0};
    }
    return p;
}

constexpr auto kTablePolicy = policy<NFTA_TABLE_MAX + 1>({{NFTA_TABLE_NAME, MNL_TYPE_NUL_STRING},
                                                          {NFTA_TABLE_FLAGS, MNL_TYPE_U32},
                                                          {NFTA_TABLE_OWNER, MNL_TYPE_U32},
                                                          {NFTA_TABLE_USERDATA, MNL_TYPE_BINARY}});
constexpr auto kChainPolicy = policy<NFTA_CHAIN_MAX + 1>({{NFTA_CHAIN_TABLE, MNL_TYPE_NUL_STRING},
                                                          {NFTA_CHAIN_NAME, MNL_TYPE_NUL_STRING},
                                                          {NFTA_CHAIN_HOOK, MNL_TYPE_NESTED},
                                                          {NFTA_CHAIN_POLICY, MNL_TYPE_U32},
                                                          {NFTA_CHAIN_TYPE, MNL_TYPE_NUL_STRING},
                                                          {NFTA_CHAIN_USERDATA, MNL_TYPE_BINARY}});
constexpr auto kHookPolicy = policy<NFTA_HOOK_MAX + 1>(
    {{NFTA_HOOK_HOOKNUM, MNL_TYPE_U32}, {NFTA_HOOK_PRIORITY, MNL_TYPE_U32}});
constexpr auto kSetPolicy = policy<NFTA_SET_MAX + 1>({{NFTA_SET_TABLE, MNL_TYPE_NUL_STRING},
                                                      {NFTA_SET_NAME, MNL_TYPE_NUL_STRING},
                                                      {NFTA_SET_FLAGS, MNL_TYPE_U32},
                                                      {NFTA_SET_KEY_TYPE, MNL_TYPE_U32},
                                                      {NFTA_SET_KEY_LEN, MNL_TYPE_U32},
                                                      {NFTA_SET_USERDATA, MNL_TYPE_BINARY}});
constexpr auto kElemListPolicy =
    policy<NFTA_SET_ELEM_LIST_MAX + 1>({{NFTA_SET_ELEM_LIST_TABLE, MNL_TYPE_NUL_STRING},
                                        {NFTA_SET_ELEM_LIST_SET, MNL_TYPE_NUL_STRING},
                                        {NFTA_SET_ELEM_LIST_ELEMENTS, MNL_TYPE_NESTED}});
constexpr auto kElemPolicy =
    policy<NFTA_SET_ELEM_MAX + 1>({{NFTA_SET_ELEM_KEY, MNL_TYPE_NESTED},
                                   {NFTA_SET_ELEM_FLAGS, MNL_TYPE_U32},
                                   {NFTA_SET_ELEM_USERDATA, MNL_TYPE_BINARY}});
constexpr auto kDataPolicy = policy<NFTA_DATA_MAX + 1>({{NFTA_DATA_VALUE, MNL_TYPE_BINARY}});

// One element of NFTA_SET_ELEM_LIST_ELEMENTS into `out`; false when malformed.
bool add_element(const nlattr* item, DecodedElements& out) {
    if (mnl_attr_get_type(item) != NFTA_LIST_ELEM || mnl_attr_validate(item, MNL_TYPE_NESTED) < 0) {
        return false;
    }
    AttrTable elem(kElemPolicy);
    AttrTable key(kDataPolicy);
    if (!elem.parse(item) || elem[NFTA_SET_ELEM_KEY] == nullptr ||
        !key.parse(elem[NFTA_SET_ELEM_KEY]) || key[NFTA_DATA_VALUE] == nullptr) {
        return false;
    }
    const auto len = mnl_attr_get_payload_len(key[NFTA_DATA_VALUE]);
    if (len == 0 || len > sizeof(Address) || (out.key_len != 0 && len != out.key_len)) {
        return false;
    }
    out.key_len = len;
    IntervalElement element;
    std::memcpy(element.key.data(), mnl_attr_get_payload(key[NFTA_DATA_VALUE]), len);
    element.end = (be32(elem[NFTA_SET_ELEM_FLAGS]) & NFT_SET_ELEM_INTERVAL_END) != 0;
    element.comment = comment(elem[NFTA_SET_ELEM_USERDATA], NFTNL_UDATA_SET_ELEM_COMMENT);
    out.elements.push_back(element);
    return true;
}

} // namespace

std::optional<DecodedTable> decode_table(Bytes message) {
    const detail::MessageView view(message);
    DecodedTable out;
    AttrTable attrs(kTablePolicy);
    const nlmsghdr* nlh = nft_header(view, NFT_MSG_NEWTABLE, out.family);
    if (nlh == nullptr || !attrs.parse(nlh, sizeof(nfgenmsg)) ||
        attrs[NFTA_TABLE_NAME] == nullptr) {
        return std::nullopt;
    }
    out.table.name = str(attrs[NFTA_TABLE_NAME]);
    out.table.flags = be32(attrs[NFTA_TABLE_FLAGS]);
    if (attrs[NFTA_TABLE_OWNER] != nullptr) {
        out.table.owner = be32(attrs[NFTA_TABLE_OWNER]);
    }
    out.table.comment = comment(attrs[NFTA_TABLE_USERDATA], NFTNL_UDATA_TABLE_COMMENT);
    return out;
}

std::optional<DecodedChain> decode_chain(Bytes message) {
    const detail::MessageView view(message);
    DecodedChain out;
    AttrTable attrs(kChainPolicy);
    AttrTable hook(kHookPolicy);
    const nlmsghdr* nlh = nft_header(view, NFT_MSG_NEWCHAIN, out.family);
    if (nlh == nullptr || !attrs.parse(nlh, sizeof(nfgenmsg)) ||
        attrs[NFTA_CHAIN_NAME] == nullptr || attrs[NFTA_CHAIN_TABLE] == nullptr ||
        (attrs[NFTA_CHAIN_HOOK] != nullptr && !hook.parse(attrs[NFTA_CHAIN_HOOK]))) {
        return std::nullopt;
    }
    out.table = str(attrs[NFTA_CHAIN_TABLE]);
    out.chain.name = str(attrs[NFTA_CHAIN_NAME]);
    out.chain.type = str(attrs[NFTA_CHAIN_TYPE]);
    if (hook[NFTA_HOOK_HOOKNUM] != nullptr) {
        out.chain.hook = be32(hook[NFTA_HOOK_HOOKNUM]);
        out.chain.priority = static_cast<std::int32_t>(be32(hook[NFTA_HOOK_PRIORITY]));
    }
    if (attrs[NFTA_CHAIN_POLICY] != nullptr) {
        out.chain.policy = be32(attrs[NFTA_CHAIN_POLICY]);
    }
    out.chain.comment = comment(attrs[NFTA_CHAIN_USERDATA], NFTNL_UDATA_CHAIN_COMMENT);
    return out;
}

std::optional<DecodedSet> decode_set(Bytes message) {
    const detail::MessageView view(message);
    DecodedSet out;
    AttrTable attrs(kSetPolicy);
    const nlmsghdr* nlh = nft_header(view, NFT_MSG_NEWSET, out.family);
    if (nlh == nullptr || !attrs.parse(nlh, sizeof(nfgenmsg)) || attrs[NFTA_SET_NAME] == nullptr ||
        attrs[NFTA_SET_TABLE] == nullptr) {
        return std::nullopt;
    }
    out.table = str(attrs[NFTA_SET_TABLE]);
    out.set.name = str(attrs[NFTA_SET_NAME]);
    out.set.key_type = be32(attrs[NFTA_SET_KEY_TYPE]);
    out.set.key_len = be32(attrs[NFTA_SET_KEY_LEN]);
    out.set.flags = be32(attrs[NFTA_SET_FLAGS]);
    out.set.family = out.set.key_len == 16 ? Family::ipv6 : Family::ipv4;
    out.set.comment = comment(attrs[NFTA_SET_USERDATA], NFTNL_UDATA_SET_COMMENT);
    return out;
}

std::optional<DecodedElements> decode_elements(Bytes message) {
    const detail::MessageView view(message);
    std::uint8_t family = 0;
    AttrTable attrs(kElemListPolicy);
    const nlmsghdr* nlh = nft_header(view, NFT_MSG_NEWSETELEM, family);
    if (nlh == nullptr || !attrs.parse(nlh, sizeof(nfgenmsg)) ||
        attrs[NFTA_SET_ELEM_LIST_TABLE] == nullptr || attrs[NFTA_SET_ELEM_LIST_SET] == nullptr) {
        return std::nullopt;
    }
    DecodedElements out;
    out.table = str(attrs[NFTA_SET_ELEM_LIST_TABLE]);
    out.set = str(attrs[NFTA_SET_ELEM_LIST_SET]);
    if (attrs[NFTA_SET_ELEM_LIST_ELEMENTS] != nullptr &&
        !each_nested(attrs[NFTA_SET_ELEM_LIST_ELEMENTS],
                     [&](const nlattr* item) { return add_element(item, out); })) {
        return std::nullopt;
    }
    return out;
}

std::optional<std::uint32_t> decode_gen(Bytes message) {
    const detail::MessageView view(message);
    std::uint8_t family = 0;
    static constexpr auto kPolicy = policy<NFTA_GEN_MAX + 1>({{NFTA_GEN_ID, MNL_TYPE_U32}});
    AttrTable attrs(kPolicy);
    const nlmsghdr* nlh = nft_header(view, NFT_MSG_NEWGEN, family);
    if (nlh == nullptr || !attrs.parse(nlh, sizeof(nfgenmsg)) || attrs[NFTA_GEN_ID] == nullptr) {
        return std::nullopt;
    }
    return be32(attrs[NFTA_GEN_ID]);
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
    static constexpr auto kPolicy = policy<2>({{1, MNL_TYPE_NUL_STRING}});
    AttrTable attrs(kPolicy);
    if (!attrs.parse(nlh, sizeof(nfgenmsg)) || attrs[1] == nullptr) {
        return EventClass::unrelated;
    }
    const std::string_view table = mnl_attr_get_str(attrs[1]);
    if (table != kTableName && table != kClosedTableName && table != kClosedAltTableName) {
        return EventClass::unrelated;
    }
    return nlh->nlmsg_pid == own_portid ? EventClass::own : EventClass::foreign;
}

} // namespace memguard::nft
