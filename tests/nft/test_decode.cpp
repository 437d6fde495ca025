// The parsers, fed messages built with libnftnl and libmnl as the kernel would send them.
#include "decode.hpp"
#include "guards.hpp"
#include "handles.hpp"
#include "plan.hpp"
#include "render.hpp"

#include <arpa/inet.h> // before the linux/ headers
#include "catch.hpp"
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <vector>

using namespace memguard;
using namespace memguard::nft;

namespace {

constexpr std::size_t kBuf = 65536;

struct Message {
    std::vector<std::uint32_t> storage = std::vector<std::uint32_t>(kBuf / 4);
    nlmsghdr* start(std::uint16_t type, std::uint32_t pid = 0) {
        auto* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(storage.data()), type,
                                          NFPROTO_INET, 0, 1);
        nlh->nlmsg_pid = pid;
        return nlh;
    }
    [[nodiscard]] Bytes bytes() const {
        const auto* nlh = reinterpret_cast<const nlmsghdr*>(storage.data());
        return {reinterpret_cast<const std::uint8_t*>(storage.data()), nlh->nlmsg_len};
    }
};

Message table_message(const char* name, const char* comment, std::uint32_t flags,
                      std::uint32_t pid = 0) {
    Message m;
    auto t = make<TablePtr>(nftnl_table_alloc);
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name);
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, flags);
    if (comment != nullptr) {
        auto u = comment_udata(NFTNL_UDATA_TABLE_COMMENT, comment);
        nftnl_table_set_data(t.get(), NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(u.get()),
                             nftnl_udata_buf_len(u.get()));
    }
    nftnl_table_nlmsg_build_payload(m.start(NFT_MSG_NEWTABLE, pid), t.get());
    return m;
}

Desired one_port() {
    return test::desired_of(
        {test::guard("default", {11211}, {Protocol::tcp}, {}, {Protocol::udp})});
}

// A rule in guard4 holding one fib expression with `attrs` (type, host-order value) in its data.
// `short_flags`: NFTA_FIB_FLAGS goes in as a u16.
Message fib_rule(std::initializer_list<std::pair<std::uint16_t, std::uint32_t>> attrs,
                 bool short_flags = false) {
    Message m;
    nlmsghdr* nlh = m.start(NFT_MSG_NEWRULE);
    mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "memguard");
    mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "guard4");
    nlattr* list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
    nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
    mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "fib");
    nlattr* data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
    for (const auto& [type, value] : attrs) {
        if (short_flags && type == NFTA_FIB_FLAGS) {
            mnl_attr_put_u16(nlh, type, htons(static_cast<std::uint16_t>(value)));
        } else {
            mnl_attr_put_u32(nlh, type, htonl(value));
        }
    }
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, elem);
    mnl_attr_nest_end(nlh, list);
    return m;
}

} // namespace

TEST_CASE("a table message gives name, flags and our marker", "[nft][decode]") {
    const auto m = table_message("memguard", "memguardd", kTableFlagOwner | kTableFlagPersist);
    const auto t = decode_table(m.bytes());
    REQUIRE(t);
    CHECK(t->family == NFPROTO_INET);
    CHECK(t->table.name == "memguard");
    CHECK(t->table.flags == 0x6);
    CHECK(t->table.ours());
    const auto foreign = decode_table(table_message("memguard", nullptr, 0).bytes());
    REQUIRE(foreign);
    CHECK_FALSE(foreign->table.ours());
}

TEST_CASE("cut or mistyped messages decode to nothing", "[nft][decode]") {
    const auto m = table_message("memguard", "memguardd", 0);
    const Bytes whole = m.bytes();
    for (std::size_t n = 0; n < whole.size(); n += 4) {
        CHECK_FALSE(decode_table(whole.first(n)));
    }
    CHECK_FALSE(decode_chain(whole));
    CHECK_FALSE(decode_rule(whole));
    CHECK_FALSE(decode_gen(whole));
    CHECK_FALSE(decode_elements(whole));
}

TEST_CASE("a rule message decodes to the rule we planned", "[nft][decode]") {
    const TablePlan plan = plan_table(kTableName, one_port());
    for (const PlannedRule& r : plan.rules) {
        Message m;
        nftnl_rule_nlmsg_build_payload(m.start(NFT_MSG_NEWRULE), r.rule.get());
        const auto decoded = decode_rule(m.bytes());
        REQUIRE(decoded);
        const RuleModel want = render_rule(r.rule.get());
        CHECK(decoded->table == "memguard");
        CHECK(decoded->rule.chain == r.chain);
        CHECK(decoded->rule.key == want.key);
        CHECK(decoded->rule.text == want.text);
        CHECK(decoded->rule.l4proto == want.l4proto);
        CHECK(decoded->rule.set == want.set);
        CHECK(decoded->rule.matches == want.matches);
        CHECK(decoded->rule.blocks == want.blocks);
        CHECK(decoded->rule.accepts == want.accepts);
        CHECK(decoded->rule.counted == want.counted);
    }
}

TEST_CASE("fib expressions decode as nft spells them", "[nft][decode]") {
    const TablePlan plan = plan_table(kTableName, one_port());
    std::vector<std::string> fib_texts;
    for (const PlannedRule& r : plan.rules) {
        Message m;
        nftnl_rule_nlmsg_build_payload(m.start(NFT_MSG_NEWRULE), r.rule.get());
        const auto decoded = decode_rule(m.bytes());
        REQUIRE(decoded);
        if (decoded->rule.text.find("fib") != std::string::npos) {
            fib_texts.push_back(decoded->rule.chain + ": " + decoded->rule.text);
        }
    }
    CHECK(fib_texts ==
          std::vector<std::string>{
              "prerouting: meta nfproto ipv4 meta l4proto tcp th dport 11211 fib daddr type local "
              "jump guard4 comment \"memguard\"",
              "prerouting: meta nfproto ipv6 meta l4proto tcp th dport 11211 fib daddr type local "
              "jump guard6 comment \"memguard\"",
              "guard4: meta l4proto udp fib saddr . iif oif missing counter packets 0 bytes 0 drop "
              "comment \"memguard\"",
              "guard6: meta l4proto udp fib saddr . iif oif missing counter packets 0 bytes 0 drop "
              "comment \"memguard\""});
}

TEST_CASE("a fib expression libnftnl could misprint is kept opaque", "[nft][decode]") {
    constexpr std::uint32_t strict = NFTA_FIB_F_SADDR | NFTA_FIB_F_IIF | NFTA_FIB_F_PRESENT;
    const auto well_formed = decode_rule(
        fib_rule(
            {{NFTA_FIB_DREG, 1}, {NFTA_FIB_RESULT, NFT_FIB_RESULT_OIF}, {NFTA_FIB_FLAGS, strict}})
            .bytes());
    REQUIRE(well_formed);
    CHECK(well_formed->rule.key == "[ fib saddr . iif oif present => reg 1 ]");
    const std::vector<Message> bad{
        // no result: libnftnl would print its table's empty entry for 0
        fib_rule({{NFTA_FIB_DREG, 1}, {NFTA_FIB_FLAGS, strict}}),
        fib_rule({{NFTA_FIB_DREG, 1}, {NFTA_FIB_RESULT, 0}, {NFTA_FIB_FLAGS, strict}}),
        fib_rule({{NFTA_FIB_DREG, 1}, {NFTA_FIB_RESULT, 4}, {NFTA_FIB_FLAGS, strict}}),
        fib_rule({{NFTA_FIB_DREG, 1}, {NFTA_FIB_RESULT, 1}, {NFTA_FIB_FLAGS, 0x40}}),
        fib_rule({{NFTA_FIB_RESULT, 1}, {NFTA_FIB_FLAGS, strict}}),
        fib_rule({{NFTA_FIB_DREG, 1}, {NFTA_FIB_RESULT, 1}}),
        fib_rule({{NFTA_FIB_DREG, 1}, {NFTA_FIB_RESULT, 1}, {NFTA_FIB_FLAGS, strict}, {4, 0}}),
    };
    for (const Message& m : bad) {
        const auto r = decode_rule(m.bytes());
        REQUIRE(r);
        CHECK(r->rule.text == "[a rule memguardd does not read]");
        CHECK(r->rule.key.starts_with("opaque "));
    }
    // A fib attribute of the wrong size (libnftnl would exit()): opaque too.
    const auto short_flags = decode_rule(
        fib_rule({{NFTA_FIB_DREG, 1}, {NFTA_FIB_RESULT, 1}, {NFTA_FIB_FLAGS, strict}}, true)
            .bytes());
    REQUIRE(short_flags);
    CHECK(short_flags->rule.key.starts_with("opaque "));
}

TEST_CASE("set and element messages", "[nft][decode]") {
    Message sm;
    auto s = make<SetPtr>(nftnl_set_alloc);
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, "memguard");
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, "allow6");
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, 8);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, 16);
    nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
    nftnl_set_nlmsg_build_payload(sm.start(NFT_MSG_NEWSET), s.get());
    const auto set = decode_set(sm.bytes());
    REQUIRE(set);
    CHECK(set->set.family == Family::ipv6);
    CHECK(set->set.flags == NFT_SET_INTERVAL);

    // Built as the kernel dumps them (nf_tables_fill_setelem), with libmnl.
    const auto ranges =
        merged_ranges(Family::ipv6, std::vector<Network>{*parse_network("fd00::/8")});
    Message em;
    nlmsghdr* nlh = em.start(NFT_MSG_NEWSETELEM);
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, "memguard");
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, "allow6");
    nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
    for (const auto& e : interval_elements(Family::ipv6, ranges)) {
        nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
        nlattr* key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
        mnl_attr_put(nlh, NFTA_DATA_VALUE, 16, e.key.data());
        mnl_attr_nest_end(nlh, key);
        if (e.end) {
            mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
        } else { // a label: comment "lab" in the element's userdata
            const auto u = comment_udata(NFTNL_UDATA_SET_ELEM_COMMENT, "lab");
            mnl_attr_put(nlh, NFTA_SET_ELEM_USERDATA, nftnl_udata_buf_len(u.get()),
                         nftnl_udata_buf_data(u.get()));
        }
        mnl_attr_nest_end(nlh, elem);
    }
    mnl_attr_nest_end(nlh, list);
    const auto elems = decode_elements(em.bytes());
    REQUIRE(elems);
    CHECK(elems->set == "allow6");
    CHECK(elems->key_len == 16);
    CHECK(ranges_from_elements(Family::ipv6, elems->elements) == ranges);
    CHECK(element_labels(elems->elements) == RangeLabels{{ranges[0].first, "lab"}});
}

TEST_CASE("a NEWGEN message gives the generation id", "[nft][decode]") {
    Message m;
    nlmsghdr* nlh = m.start(NFT_MSG_NEWGEN);
    mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(4242));
    CHECK(decode_gen(m.bytes()) == 4242U);
}

TEST_CASE("events are sorted by table and by who made them", "[nft][decode]") {
    CHECK(classify_event(table_message("memguard", nullptr, 0, 77).bytes(), 77) == EventClass::own);
    CHECK(classify_event(table_message("memguard", nullptr, 0, 78).bytes(), 77) ==
          EventClass::foreign);
    CHECK(classify_event(table_message("memguard_closed", nullptr, 0, 0).bytes(), 77) ==
          EventClass::foreign);
    CHECK(classify_event(table_message("filter", nullptr, 0, 78).bytes(), 77) ==
          EventClass::unrelated);
    Message gen;
    mnl_attr_put_u32(gen.start(NFT_MSG_NEWGEN, 78), NFTA_GEN_ID, htonl(1));
    CHECK(classify_event(gen.bytes(), 77) == EventClass::unrelated);
}

TEST_CASE("a rule libnftnl would choke on is kept as an opaque rule", "[nft][decode]") {
    Message m;
    nlmsghdr* nlh = m.start(NFT_MSG_NEWRULE);
    mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "memguard");
    mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "guard4");
    nlattr* list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
    nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
    mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "immediate");
    nlattr* data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
    mnl_attr_put_u32(nlh, NFTA_IMMEDIATE_DREG, htonl(NFT_REG_VERDICT));
    nlattr* reg = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
    nlattr* verdict = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
    mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(static_cast<std::uint32_t>(NFT_JUMP)));
    mnl_attr_nest_end(nlh, verdict); // a jump without its chain: libnftnl strdup()s NULL
    mnl_attr_nest_end(nlh, reg);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, elem);
    mnl_attr_nest_end(nlh, list);
    const auto r = decode_rule(m.bytes());
    REQUIRE(r);
    CHECK(r->rule.chain == "guard4");
    CHECK(r->rule.text == "[a rule memguardd does not read]");
    CHECK(r->rule.key.starts_with("opaque "));
}
