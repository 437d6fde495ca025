#include "batch.hpp"

#include "netlink/detail.hpp"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <cstring>

namespace memguard::nft {

namespace {

constexpr std::size_t kSmallMessage = 4096;
// Elements per NEWSETELEM message: about 40 bytes each (more with a label), so a message stays
// well under the 64 KiB a netlink attribute nest can describe.
constexpr std::size_t kElementsPerMessage = 1000;
constexpr std::size_t kBytesPerElement = 64;
constexpr std::size_t kNestBytes = 60000;

constexpr std::uint16_t kCreate = NLM_F_CREATE | NLM_F_ACK;

std::string inet(std::string_view table) {
    return "inet " + std::string(table);
}

void set_comment(auto* obj, auto setter, std::uint16_t attr, std::uint8_t type,
                 std::string_view c) {
    const auto udata = comment_udata(type, c);
    setter(obj, attr, nftnl_udata_buf_data(udata.get()), nftnl_udata_buf_len(udata.get()));
}

// chain NAME { [type filter hook HOOK priority P; policy accept;] comment "memguard" }
void add_chain(Batch& b, const std::string& table, const PlannedChain& c) {
    auto chain = make<ChainPtr>(nftnl_chain_alloc);
    nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TABLE, table.c_str());
    nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_NAME, c.name.c_str());
    if (c.hook) {
        nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TYPE, "filter");
        nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_HOOKNUM, *c.hook);
        nftnl_chain_set_s32(chain.get(), NFTNL_CHAIN_PRIO, c.priority);
        nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
    }
    set_comment(chain.get(), nftnl_chain_set_data, NFTNL_CHAIN_USERDATA, NFTNL_UDATA_CHAIN_COMMENT,
                kComment);
    nlmsghdr* nlh = b.add(NFT_MSG_NEWCHAIN, kCreate, "add chain " + c.name + " to " + inet(table),
                          kSmallMessage);
    nftnl_chain_nlmsg_build_payload(nlh, chain.get());
    b.done(nlh);
}

SetPtr new_set(const std::string& table, const PlannedSet& s) {
    auto set = make<SetPtr>(nftnl_set_alloc);
    nftnl_set_set_u32(set.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
    nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(set.get(), NFTNL_SET_NAME, s.name.c_str());
    nftnl_set_set_u32(set.get(), NFTNL_SET_ID, s.id);
    return set;
}

// set allowN { type ipvN_addr; flags interval; comment "memguard" }
void add_set(Batch& b, const std::string& table, const PlannedSet& s) {
    auto set = new_set(table, s);
    const auto len = static_cast<std::uint32_t>(address_size(s.family));
    nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_TYPE, s.family == Family::ipv4 ? 7 : 8);
    nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_LEN, len);
    nftnl_set_set_u32(set.get(), NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
    set_comment(set.get(), nftnl_set_set_data, NFTNL_SET_USERDATA, NFTNL_UDATA_SET_COMMENT,
                kComment);
    nlmsghdr* nlh =
        b.add(NFT_MSG_NEWSET, kCreate, "add set " + s.name + " to " + inet(table), kSmallMessage);
    nftnl_set_nlmsg_build_payload(nlh, set.get());
    b.done(nlh);
}

// The bytes an element takes in a NEWSETELEM message, at most: its key and flags, and its
// label's TLV (NFTA_SET_ELEM_USERDATA).
std::size_t element_bytes(const PlannedSet& s, const IntervalElement& e) {
    const auto label = e.end ? s.labels.end() : s.labels.find(e.key);
    return kBytesPerElement + (label != s.labels.end() ? label->second.size() + 16 : 0);
}

nftnl_set_elem* new_element(const PlannedSet& s, const IntervalElement& element) {
    nftnl_set_elem* e = nftnl_set_elem_alloc();
    if (e == nullptr) {
        throw std::bad_alloc();
    }
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, element.key.data(),
                       static_cast<std::uint32_t>(address_size(s.family)));
    if (element.end) {
        nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
    } else if (const auto label = s.labels.find(element.key); label != s.labels.end()) {
        // comment "LABEL" on the range's start element, where nft puts an element's comment
        set_comment(e, nftnl_set_elem_set, NFTNL_SET_ELEM_USERDATA, NFTNL_UDATA_SET_ELEM_COMMENT,
                    label->second);
    }
    return e;
}

// Several messages for a large set: at most kElementsPerMessage elements and kNestBytes each
// (the elements' nest has a 16-bit length), a range's start and end in the same one.
void add_elements(Batch& b, const std::string& table, const PlannedSet& s) {
    const auto elements = interval_elements(s.family, s.ranges);
    std::size_t first = 0;
    while (first < elements.size()) {
        std::size_t last = first;
        std::size_t bytes = 0;
        while (last < elements.size() &&
               (last == first || elements[last].end ||
                (last - first < kElementsPerMessage &&
                 bytes + element_bytes(s, elements[last]) * 2 <= kNestBytes))) {
            bytes += element_bytes(s, elements[last]);
            ++last;
        }
        auto set = new_set(table, s);
        for (std::size_t i = first; i < last; ++i) {
            nftnl_set_elem_add(set.get(), new_element(s, elements[i])); // the set owns it now
        }
        nlmsghdr* nlh = b.add(NFT_MSG_NEWSETELEM, kCreate,
                              "add " + std::to_string(last - first) + " elements to set " + s.name,
                              kSmallMessage + bytes);
        nftnl_set_elems_nlmsg_build_payload(nlh, set.get());
        b.done(nlh);
        first = last;
    }
}

} // namespace

Batch::Batch(std::uint32_t first_seq, std::optional<std::uint32_t> genid) : first_seq_(first_seq) {
    auto* nlh = nftnl_batch_begin(reserve(kSmallMessage), first_seq_);
    if (genid) {
        mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, netlink::detail::to_be32(*genid));
    }
    used_ += MNL_ALIGN(nlh->nlmsg_len);
}

char* Batch::reserve(std::size_t len) {
    const std::size_t words = (used_ + len) / sizeof(std::uint32_t) + 1;
    if (storage_.size() < words) {
        storage_.resize(std::max(words, storage_.size() * 2), 0);
    }
    return reinterpret_cast<char*>(storage_.data()) + used_;
}

nlmsghdr* Batch::add(std::uint16_t type, std::uint16_t flags, std::string what,
                     std::size_t max_len) {
    char* at = reserve(max_len);
    std::memset(at, 0, max_len);
    what_.push_back(std::move(what));
    const auto seq = static_cast<std::uint32_t>(first_seq_ + what_.size());
    return nftnl_nlmsg_build_hdr(at, type, NFPROTO_INET, flags, seq);
}

void Batch::done(const nlmsghdr* nlh) {
    used_ += MNL_ALIGN(nlh->nlmsg_len);
}

void Batch::end() {
    const auto seq = static_cast<std::uint32_t>(first_seq_ + what_.size() + 1);
    const auto* nlh = nftnl_batch_end(reserve(kSmallMessage), seq);
    used_ += MNL_ALIGN(nlh->nlmsg_len);
}

std::span<const std::uint8_t> Batch::bytes() const {
    return {reinterpret_cast<const std::uint8_t*>(storage_.data()), used_};
}

std::string Batch::what(std::uint32_t seq) const {
    if (seq == first_seq_) {
        return "begin the batch";
    }
    const std::size_t index = seq - first_seq_ - 1;
    return seq > first_seq_ && index < what_.size() ? what_[index] : std::string();
}

void add_new_table(Batch& batch, std::string_view table, std::uint32_t flags, bool adopt) {
    auto t = make<TablePtr>(nftnl_table_alloc);
    const std::string name(table);
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, NFPROTO_INET);
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name.c_str());
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, flags);
    set_comment(t.get(), nftnl_table_set_data, NFTNL_TABLE_USERDATA, NFTNL_UDATA_TABLE_COMMENT,
                kTableMarker);
    const auto create = static_cast<std::uint16_t>(adopt ? kCreate : kCreate | NLM_F_EXCL);
    nlmsghdr* nlh = batch.add(NFT_MSG_NEWTABLE, create,
                              (adopt ? "adopt table " : "add table ") + inet(table), kSmallMessage);
    nftnl_table_nlmsg_build_payload(nlh, t.get());
    batch.done(nlh);
}

void add_delete_table(Batch& batch, std::string_view table) {
    auto t = make<TablePtr>(nftnl_table_alloc);
    const std::string name(table);
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, NFPROTO_INET);
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name.c_str());
    nlmsghdr* nlh =
        batch.add(NFT_MSG_DELTABLE, NLM_F_ACK, "delete table " + inet(table), kSmallMessage);
    nftnl_table_nlmsg_build_payload(nlh, t.get());
    batch.done(nlh);
}

void add_table(Batch& batch, const TablePlan& plan, std::uint32_t table_flags) {
    add_new_table(batch, plan.table, table_flags);
    for (const PlannedChain& c : plan.chains) {
        add_chain(batch, plan.table, c);
    }
    for (const PlannedSet& s : plan.sets) {
        add_set(batch, plan.table, s);
        add_elements(batch, plan.table, s);
    }
    for (const PlannedRule& r : plan.rules) {
        nlmsghdr* nlh = batch.add(NFT_MSG_NEWRULE, kCreate | NLM_F_APPEND,
                                  "add rule to chain " + r.chain, kSmallMessage);
        nftnl_rule_nlmsg_build_payload(nlh, r.rule.get());
        batch.done(nlh);
    }
}

} // namespace memguard::nft
