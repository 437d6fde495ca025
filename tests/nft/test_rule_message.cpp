// The one decoder of rule messages (rule_message.hpp) and its two readers: the backend's
// read-back (decode_rule) and the reader of every table doctor looks at (foreign_rules.hpp).
// Rules are built with libnftnl as nft and Docker write them, malformed ones byte by byte.
#include "decode.hpp"
#include "foreign_rules.hpp"
#include "foreign_seeds.hpp"
#include "guards.hpp"
#include "handles.hpp"
#include "plan.hpp"
#include "rule_message.hpp"

#include "catch.hpp"
#include <arpa/inet.h> // before the linux/ headers
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

using namespace memguard;
using namespace memguard::nft;

namespace {

struct Message {
    std::vector<std::uint32_t> storage;
    nlmsghdr* nlh;
    explicit Message(std::uint16_t family = NFPROTO_IPV4)
        : storage(4096), nlh(nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(storage.data()),
                                                   NFT_MSG_NEWRULE, family, 0, 1)) {}
    [[nodiscard]] Bytes bytes() const {
        return {reinterpret_cast<const std::uint8_t*>(storage.data()), nlh->nlmsg_len};
    }
};

// Docker's DNAT rule as the kernel dumps it in table ip nat.
Message docker_dnat_message() {
    Message m;
    nftnl_rule_nlmsg_build_payload(m.nlh, docker_dnat().get());
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
    std::size_t drops = 0;
    for (const PlannedRule& planned : plan.rules) {
        Message m(NFPROTO_INET);
        nftnl_rule_nlmsg_build_payload(m.nlh, planned.rule.get());
        const RuleRead read = read_rule_message(m.bytes());
        REQUIRE(read.message);
        INFO(read.message->error);
        CHECK(read.message->rule);
        CHECK(read.message->error.empty());
        const auto parsed = parse_nft_rule_message(m.bytes());
        REQUIRE(parsed);
        drops += parsed->drops ? 1 : 0;
    }
    CHECK(drops >= 2); // the reverse-path drop and the closing drop are read as drops

    const Message docker = docker_dnat_message();
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
    CHECK_FALSE(rule->drops);
    // The backend's reader takes only the expressions it renders: nat is not one.
    const auto ours = decode_rule(docker.bytes());
    REQUIRE(ours);
    CHECK(ours->rule.key.starts_with("opaque "));
}

TEST_CASE("rule message: a truncated attribute is refused", "[nft][rule_message]") {
    Message m = docker_dnat_message();
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
        (void)std::freopen("/dev/null", "w", stderr);
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

TEST_CASE("rule message: every rule of a real dump of Docker's and firewalld's tables passes",
          "[nft][rule_message]") {
    // Recorded with make_nft_seeds --record from a namespace holding Docker's nat rules and a
    // firewalld-like inet table (sets, ct state, fib, log, limit, quota, meter, reject).
    std::ifstream in(std::filesystem::path(MEMGUARD_FUZZ_CORPUS) / "nft_foreign" /
                         "kernel-docker-firewalld",
                     std::ios::binary);
    REQUIRE(in);
    const std::vector<std::uint8_t> dump{std::istreambuf_iterator<char>(in), {}};
    std::size_t rules = 0;
    bool found_dnat = false;
    for (std::size_t at = 0; at + sizeof(nlmsghdr) <= dump.size();) {
        nlmsghdr header{};
        std::memcpy(&header, dump.data() + at, sizeof header);
        REQUIRE(header.nlmsg_len >= sizeof header);
        REQUIRE(header.nlmsg_len <= dump.size() - at);
        const std::vector<std::uint8_t> message(dump.data() + at,
                                                dump.data() + at + header.nlmsg_len);
        std::string error;
        const auto rule = parse_nft_rule_message(message, &error);
        INFO("message at " << at << ": " << error);
        CHECK(rule);
        found_dnat = found_dnat || (rule && rule->chain == "DOCKER" && rule->nat && rule->dport &&
                                    rule->dport->min == 11211);
        ++rules;
        at += NLMSG_ALIGN(header.nlmsg_len);
    }
    CHECK(rules >= 20);
    CHECK(found_dnat);
}

TEST_CASE("foreign reader: our forward rules match the port asked for before the DNAT",
          "[nft][rule_message]") {
    // doctor's coverage of the DNAT path reads our forward chain with this reader.
    const TablePlan plan = plan_table(
        kTableName, test::desired_of({test::guard("default", {11211}, {Protocol::tcp}, {}, {})}));
    std::size_t forward = 0;
    for (const PlannedRule& planned : plan.rules) {
        Message m(NFPROTO_INET);
        nftnl_rule_nlmsg_build_payload(m.nlh, planned.rule.get());
        const auto rule = parse_nft_rule_message(m.bytes());
        REQUIRE(rule);
        if (rule->chain != kForwardChain || !rule->dport) {
            continue; // not a jump: ct original proto-dst != 11211 accept
        }
        ++forward;
        CHECK(rule->l4proto == IPPROTO_TCP);
        REQUIRE(rule->dport);
        CHECK(rule->dport->min == 11211);
        CHECK(rule->dport->max == 11211);
    }
    CHECK(forward == 2); // one per family
}

TEST_CASE("foreign reader: iptables-nft's protocol read from the network header",
          "[nft][rule_message]") {
    // iptables-nft 1.8.10 and later (Debian 13) write -p tcp as `ip protocol tcp` in table ip
    // and `ip6 nexthdr tcp` in table ip6; a DNAT so matched is tcp's only.
    for (const auto& [nfproto, family, offset] :
         {std::tuple{NFPROTO_IPV4, Family::ipv4, 9U}, std::tuple{NFPROTO_IPV6, Family::ipv6, 6U}}) {
        Message m(static_cast<std::uint16_t>(nfproto));
        nftnl_rule_nlmsg_build_payload(m.nlh,
                                       iptables_nft_network_protocol_dnat(family, offset).get());
        const auto rule = parse_nft_rule_message(m.bytes());
        REQUIRE(rule);
        CHECK(rule->l4proto == IPPROTO_TCP);
        REQUIRE(rule->dport);
        CHECK(rule->dport->min == 11211);
        REQUIRE(rule->nat);
    }
    // The same byte elsewhere in the header is no protocol: offset 9 of an IPv6 header is in its
    // source address.
    Message m(NFPROTO_IPV6);
    nftnl_rule_nlmsg_build_payload(m.nlh,
                                   iptables_nft_network_protocol_dnat(Family::ipv6, 9).get());
    const auto rule = parse_nft_rule_message(m.bytes());
    REQUIRE(rule);
    CHECK_FALSE(rule->l4proto);
}
