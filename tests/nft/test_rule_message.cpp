// The one decoder of rule messages (rule_message.hpp) and its two readers: the backend's
// read-back (decode_rule) and the reader of every table doctor looks at (foreign_rules.hpp).
// Rules are built with libnftnl as nft and Docker write them, malformed ones byte by byte.
#include "decode.hpp"
#include "foreign_rules.hpp"
#include "guards.hpp"
#include "handles.hpp"
#include "plan.hpp"
#include "rule_message.hpp"

#include <arpa/inet.h> // before the linux/ headers
#include <catch2/catch.hpp>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

using namespace memguard;
using namespace memguard::nft;

namespace {

struct Message {
    std::vector<std::uint32_t> storage = std::vector<std::uint32_t>(4096);
    nlmsghdr* nlh = nullptr;
    explicit Message(std::uint16_t family = NFPROTO_IPV4) {
        nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(storage.data()), NFT_MSG_NEWRULE,
                                    family, 0, 1);
    }
    [[nodiscard]] Bytes bytes() const {
        return {reinterpret_cast<const std::uint8_t*>(storage.data()), nlh->nlmsg_len};
    }
};

// Docker's `ip nat DOCKER: iifname != "docker0" meta l4proto tcp tcp dport 11211 counter
// dnat to 172.17.0.2:11211`, as libnftnl builds it.
Message docker_dnat() {
    auto r = make<RulePtr>(nftnl_rule_alloc);
    nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, "nat");
    nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, "DOCKER");
    auto add = [&](const char* name, const std::function<void(nftnl_expr*)>& fill) {
        nftnl_expr* e = nftnl_expr_alloc(name);
        REQUIRE(e != nullptr);
        fill(e);
        nftnl_rule_add_expr(r.get(), e);
    };
    add("meta", [](nftnl_expr* e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_IIFNAME);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
    });
    add("cmp", [](nftnl_expr* e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_NEQ);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, "docker0\0\0\0\0\0\0\0\0", 16);
    });
    add("meta", [](nftnl_expr* e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
    });
    add("cmp", [](nftnl_expr* e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
        nftnl_expr_set_u8(e, NFTNL_EXPR_CMP_DATA, IPPROTO_TCP);
    });
    add("payload", [](nftnl_expr* e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 2);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
    });
    add("cmp", [](nftnl_expr* e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
        nftnl_expr_set_u16(e, NFTNL_EXPR_CMP_DATA, htons(11211));
    });
    add("counter", [](nftnl_expr*) {});
    add("immediate", [](nftnl_expr* e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DATA, htonl(0xAC110002));
    });
    add("immediate", [](nftnl_expr* e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_2);
        nftnl_expr_set_u16(e, NFTNL_EXPR_IMM_DATA, htons(11211));
    });
    add("nat", [](nftnl_expr* e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
    });
    Message m;
    nftnl_rule_nlmsg_build_payload(m.nlh, r.get());
    return m;
}

// A rule in table nat, chain DOCKER, whose NFTA_RULE_EXPRESSIONS `fill` writes.
Message raw_rule(const std::function<void(nlmsghdr*)>& fill) {
    Message m;
    mnl_attr_put_strz(m.nlh, NFTA_RULE_TABLE, "nat");
    mnl_attr_put_strz(m.nlh, NFTA_RULE_CHAIN, "DOCKER");
    nlattr* list = mnl_attr_nest_start(m.nlh, NFTA_RULE_EXPRESSIONS);
    fill(m.nlh);
    mnl_attr_nest_end(m.nlh, list);
    return m;
}

// One expression `name` whose NFTA_EXPR_DATA `fill` writes; returns the data nest.
nlattr* expression(nlmsghdr* nlh, const char* name, const std::function<void(nlmsghdr*)>& fill) {
    nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
    mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, name);
    nlattr* data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
    fill(nlh);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, elem);
    return data;
}

// `meta load l4proto => reg 1`, with its key as a u8 instead of a u32 when `short_key`.
void meta(nlmsghdr* nlh, bool short_key = false) {
    expression(nlh, "meta", [&](nlmsghdr* n) {
        mnl_attr_put_u32(n, NFTA_META_DREG, htonl(NFT_REG_1));
        if (short_key) {
            mnl_attr_put_u8(n, NFTA_META_KEY, NFT_META_L4PROTO);
        } else {
            mnl_attr_put_u32(n, NFTA_META_KEY, htonl(NFT_META_L4PROTO));
        }
    });
}

// Refused with an error by the decoder, so neither reader hands it to libnftnl.
void refused(const Message& m) {
    const RuleRead read = read_rule_message(m.bytes());
    REQUIRE(read.message);
    CHECK_FALSE(read.message->rule);
    CHECK_FALSE(read.message->error.empty());
    INFO(read.message->error);
    std::string error;
    CHECK_FALSE(parse_nft_rule_message(m.bytes(), &error));
    CHECK(error == read.message->error);
    const auto ours = decode_rule(m.bytes());
    REQUIRE(ours);
    CHECK(ours->rule.text == "[a rule memguardd does not read]");
}

} // namespace

TEST_CASE("rule message: our rules and Docker's pass the check", "[nft][rule_message]") {
    const TablePlan plan = plan_table(
        kTableName,
        test::desired_of({test::guard("default", {11211}, {Protocol::tcp}, {}, {Protocol::udp})}));
    REQUIRE_FALSE(plan.rules.empty());
    for (const PlannedRule& planned : plan.rules) {
        Message m(NFPROTO_INET);
        nftnl_rule_nlmsg_build_payload(m.nlh, planned.rule.get());
        const RuleRead read = read_rule_message(m.bytes());
        REQUIRE(read.message);
        INFO(read.message->error);
        CHECK(read.message->rule);
        CHECK(read.message->error.empty());
    }

    const Message docker = docker_dnat();
    std::string error;
    const auto rule = parse_nft_rule_message(docker.bytes(), &error);
    INFO(error);
    REQUIRE(rule);
    CHECK(rule->family == "ip");
    CHECK(rule->table == "nat");
    CHECK(rule->chain == "DOCKER");
    CHECK(rule->l4proto == IPPROTO_TCP);
    REQUIRE(rule->dport);
    CHECK(rule->dport->min == 11211);
    REQUIRE(rule->nat);
    REQUIRE(rule->nat->address);
    CHECK(rule->nat->address->to_string() == "172.17.0.2");
    // The backend's reader takes only the expressions it renders: nat is not one.
    const auto ours = decode_rule(docker.bytes());
    REQUIRE(ours);
    CHECK(ours->rule.key.starts_with("opaque "));
}

TEST_CASE("rule message: a truncated attribute is refused", "[nft][rule_message]") {
    Message m = docker_dnat();
    // The expressions come last: cutting the message's end leaves their nest overrunning it.
    m.nlh->nlmsg_len -= 8;
    refused(m);
}

TEST_CASE("rule message: a nest of the wrong length is refused", "[nft][rule_message]") {
    for (const int grow : {4, -4, -8}) {
        INFO("expression data grown by " << grow);
        nlattr* data = nullptr;
        const Message m = raw_rule([&](nlmsghdr* nlh) {
            data = expression(nlh, "meta", [](nlmsghdr* n) {
                mnl_attr_put_u32(n, NFTA_META_DREG, htonl(NFT_REG_1));
                mnl_attr_put_u32(n, NFTA_META_KEY, htonl(NFT_META_L4PROTO));
            });
        });
        data->nla_len = static_cast<std::uint16_t>(data->nla_len + grow);
        refused(m);
    }
}

TEST_CASE("rule message: an unknown expression, or a known one with a bad payload, is refused",
          "[nft][rule_message]") {
    refused(raw_rule([](nlmsghdr* nlh) {
        expression(nlh, "bogus",
                   [](nlmsghdr* n) { mnl_attr_put(n, 1, 5, "\x01\x02\x03\x04\x05"); });
    }));
    refused(raw_rule([](nlmsghdr* nlh) { meta(nlh, true); })); // libnftnl would exit()
    refused(raw_rule([](nlmsghdr* nlh) {
        expression(nlh, "lookup", [](nlmsghdr* n) {
            mnl_attr_put(n, NFTA_LOOKUP_SET, 4, "abcd"); // no NUL: libnftnl would strdup() on
            mnl_attr_put_u32(n, NFTA_LOOKUP_SREG, htonl(NFT_REG_1));
        });
    }));
    refused(raw_rule([](nlmsghdr* nlh) {
        expression(nlh, "meta", [](nlmsghdr* n) { mnl_attr_put_u32(n, 9, 0); }); // no such attr
    }));
    refused(raw_rule([](nlmsghdr* nlh) {
        expression(nlh, "cmp", [](nlmsghdr* n) {
            mnl_attr_put_u32(n, NFTA_CMP_SREG, htonl(NFT_REG_1));
            mnl_attr_put_u32(n, NFTA_CMP_OP, htonl(NFT_CMP_EQ));
            nlattr* d = mnl_attr_nest_start(n, NFTA_CMP_DATA);
            const std::vector<std::uint8_t> big(65, 1); // over NFT_DATA_VALUE_MAXLEN
            mnl_attr_put(n, NFTA_DATA_VALUE, big.size(), big.data());
            mnl_attr_nest_end(n, d);
        });
    }));
    refused(raw_rule([](nlmsghdr* nlh) {
        expression(nlh, "immediate", [](nlmsghdr* n) {
            mnl_attr_put_u32(n, NFTA_IMMEDIATE_DREG, htonl(NFT_REG_VERDICT));
            nlattr* d = mnl_attr_nest_start(n, NFTA_IMMEDIATE_DATA);
            nlattr* v = mnl_attr_nest_start(n, NFTA_DATA_VERDICT);
            mnl_attr_put_u32(n, NFTA_VERDICT_CODE, htonl(static_cast<std::uint32_t>(NFT_JUMP)));
            mnl_attr_nest_end(n, v); // a jump without its chain
            mnl_attr_nest_end(n, d);
        });
    }));
}

TEST_CASE("rule message: an expression list nested wrongly is refused", "[nft][rule_message]") {
    SECTION("no name") {
        refused(raw_rule([](nlmsghdr* nlh) {
            nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
            nlattr* data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
            mnl_attr_put_u32(nlh, NFTA_META_KEY, htonl(NFT_META_L4PROTO));
            mnl_attr_nest_end(nlh, data);
            mnl_attr_nest_end(nlh, elem);
        }));
    }
    SECTION("an expression's attributes straight in the list") {
        refused(raw_rule([](nlmsghdr* nlh) { mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "meta"); }));
    }
    SECTION("a list element inside a list element") {
        refused(raw_rule([](nlmsghdr* nlh) {
            nlattr* outer = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
            meta(nlh);
            mnl_attr_nest_end(nlh, outer);
        }));
    }
    SECTION("expressions that are not a nest") {
        Message m;
        mnl_attr_put_strz(m.nlh, NFTA_RULE_TABLE, "nat");
        mnl_attr_put_strz(m.nlh, NFTA_RULE_CHAIN, "DOCKER");
        mnl_attr_put_u8(m.nlh, NFTA_RULE_EXPRESSIONS, 1);
        const RuleRead read = read_rule_message(m.bytes());
        CHECK_FALSE(read.message); // the table's own attribute table refuses it
        CHECK_FALSE(read.error.empty());
        CHECK_FALSE(parse_nft_rule_message(m.bytes()));
    }
    SECTION("a dynset inside a dynset") {
        refused(raw_rule([](nlmsghdr* nlh) {
            expression(nlh, "dynset", [](nlmsghdr* n) {
                mnl_attr_put_strz(n, NFTA_DYNSET_SET_NAME, "meter");
                nlattr* inner = mnl_attr_nest_start(n, NFTA_DYNSET_EXPR);
                mnl_attr_put_strz(n, NFTA_EXPR_NAME, "dynset");
                mnl_attr_nest_end(n, inner);
            });
        }));
    }
}

TEST_CASE("rule message: a dynset with a counter passes", "[nft][rule_message]") {
    const Message m = raw_rule([](nlmsghdr* nlh) {
        expression(nlh, "dynset", [](nlmsghdr* n) {
            mnl_attr_put_strz(n, NFTA_DYNSET_SET_NAME, "meter");
            mnl_attr_put_u32(n, NFTA_DYNSET_SREG_KEY, htonl(NFT_REG_1));
            mnl_attr_put_u32(n, NFTA_DYNSET_OP, htonl(NFT_DYNSET_OP_UPDATE));
            nlattr* inner = mnl_attr_nest_start(n, NFTA_DYNSET_EXPR);
            mnl_attr_put_strz(n, NFTA_EXPR_NAME, "counter");
            mnl_attr_nest_end(n, inner);
        });
    });
    const RuleRead read = read_rule_message(m.bytes());
    REQUIRE(read.message);
    INFO(read.message->error);
    CHECK(read.message->rule);
}

TEST_CASE("rule message: what the check spares libnftnl would end the process",
          "[nft][rule_message]") {
    const Message m = raw_rule([](nlmsghdr* nlh) { meta(nlh, true); });
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // libnftnl 1.2.4 prints "nf_tables kernel ABI is broken" and exit()s.
        nftnl_rule* r = nftnl_rule_alloc();
        nftnl_rule_nlmsg_parse(m.nlh, r);
        _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) != 0);
    CHECK_FALSE(parse_nft_rule_message(m.bytes())); // and here: refused, in this process
}
