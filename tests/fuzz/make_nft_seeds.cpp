// make_nft_seeds CORPUS_DIR [--record NAME]: writes seed messages for the fuzz_nft_* targets,
// built as the kernel sends them (libnftnl for objects, libmnl for elements and NEWGEN), into
// CORPUS_DIR/nft_<parser>/. nft_foreign gets a dump of rules as Docker, iptables-nft and
// firewalld write them (tests/nft/foreign_seeds.cpp); with --record NAME also the kernel's own dump
// of every rule in this network namespace, as CORPUS_DIR/nft_foreign/NAME.
#include "foreign_seeds.hpp"
#include "netlink/socket.hpp"
#include "nft/handles.hpp"
#include "nft/plan.hpp"

#include <arpa/inet.h> // before the linux/ headers
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace memguard;
using namespace memguard::nft;

namespace {

struct Message {
    std::vector<std::uint32_t> storage = std::vector<std::uint32_t>(16384);
    nlmsghdr* start(std::uint16_t type) {
        return nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(storage.data()), type, NFPROTO_INET, 0,
                                     1);
    }
    void save(const std::filesystem::path& dir, const std::string& name) const {
        std::filesystem::create_directories(dir);
        const auto* nlh = reinterpret_cast<const nlmsghdr*>(storage.data());
        std::ofstream(dir / name, std::ios::binary)
            .write(reinterpret_cast<const char*>(storage.data()), nlh->nlmsg_len);
    }
};

// Two guards, so the seeds hold accept rules matching a guard's protocol and port too.
Desired sample() {
    GuardSpec one;
    one.protocols = {Protocol::tcp};
    one.reverse_path = {Protocol::tcp}; // the fib rule
    GuardSpec two;
    two.name = "pages";
    two.ports = {11212, 11213};
    two.protocols = {Protocol::udp};
    Policy policy;
    policy.guards = {one, two};
    Desired d = desired_state(policy);
    d.ipv4.log_blocked = true;
    d.ipv6.action = Action::reject;
    return d;
}

void table_seed(const std::filesystem::path& root) {
    Message m;
    auto t = make<TablePtr>(nftnl_table_alloc);
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, "memguard");
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, kTableFlagOwner | kTableFlagPersist);
    auto u = comment_udata(NFTNL_UDATA_TABLE_COMMENT, kTableMarker);
    nftnl_table_set_data(t.get(), NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(u.get()),
                         nftnl_udata_buf_len(u.get()));
    nftnl_table_nlmsg_build_payload(m.start(NFT_MSG_NEWTABLE), t.get());
    m.save(root / "nft_table", "memguard");
    m.save(root / "nft_event", "newtable");
}

void chain_seed(const std::filesystem::path& root) {
    Message m;
    auto c = make<ChainPtr>(nftnl_chain_alloc);
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, "memguard");
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, "input");
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, "filter");
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_IN);
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, -10);
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
    nftnl_chain_nlmsg_build_payload(m.start(NFT_MSG_NEWCHAIN), c.get());
    m.save(root / "nft_chain", "input");
    m.save(root / "nft_event", "newchain");
}

void set_seeds(const std::filesystem::path& root) {
    Message m;
    auto s = make<SetPtr>(nftnl_set_alloc);
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, "memguard");
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, "allow4");
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, 7);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, 4);
    nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
    nftnl_set_nlmsg_build_payload(m.start(NFT_MSG_NEWSET), s.get());
    m.save(root / "nft_set", "allow4");

    Message e;
    nlmsghdr* nlh = e.start(NFT_MSG_NEWSETELEM);
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, "memguard");
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, "allow4");
    nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
    const std::vector<Network> nets{*parse_network("10.0.0.0/8"), *parse_network("255.0.0.0/8")};
    for (const auto& el : interval_elements(Family::ipv4, merged_ranges(Family::ipv4, nets))) {
        nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
        nlattr* key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
        mnl_attr_put(nlh, NFTA_DATA_VALUE, 4, el.key.data());
        mnl_attr_nest_end(nlh, key);
        if (el.end) {
            mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
        } else {
            const auto u = comment_udata(NFTNL_UDATA_SET_ELEM_COMMENT, "batch host");
            mnl_attr_put(nlh, NFTA_SET_ELEM_USERDATA, nftnl_udata_buf_len(u.get()),
                         nftnl_udata_buf_data(u.get()));
        }
        mnl_attr_nest_end(nlh, elem);
    }
    mnl_attr_nest_end(nlh, list);
    e.save(root / "nft_elements", "allow4");
    e.save(root / "nft_event", "newsetelem");
}

void rule_seeds(const std::filesystem::path& root) {
    const TablePlan plan = plan_table(kTableName, sample());
    int n = 0;
    for (const PlannedRule& r : plan.rules) {
        Message m;
        nftnl_rule_nlmsg_build_payload(m.start(NFT_MSG_NEWRULE), r.rule.get());
        m.save(root / "nft_rule", "rule" + std::to_string(++n));
    }
}

void write_dump(const std::filesystem::path& dir, const std::string& name,
                const std::vector<std::uint8_t>& dump) {
    std::filesystem::create_directories(dir);
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(dump.data()),
               static_cast<std::streamsize>(dump.size()));
}

// The rules dump seed: our own rules and the foreign ones, one message after another.
void foreign_seed(const std::filesystem::path& root) {
    std::vector<std::uint8_t> dump;
    auto append = [&](nftnl_rule* r, std::uint16_t family) {
        Message m;
        nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(m.storage.data()),
                                              NFT_MSG_NEWRULE, family, NLM_F_MULTI, 1);
        nftnl_rule_nlmsg_build_payload(nlh, r);
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(m.storage.data());
        dump.insert(dump.end(), bytes, bytes + nlh->nlmsg_len);
    };
    for (const auto& [family, rule] : foreign_rules()) {
        append(rule.get(), family);
    }
    const TablePlan plan = plan_table(kTableName, sample());
    append(plan.rules.front().rule.get(), NFPROTO_INET);
    write_dump(root / "nft_foreign", "generated", dump);
}

// This namespace's rules as the kernel dumps them, NLMSG_DONE left out.
void record(const std::filesystem::path& root, const std::string& name) {
    netlink::Socket socket(netlink::Bus::netfilter);
    Message m;
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(m.storage.data()),
                                          NFT_MSG_GETRULE, NFPROTO_UNSPEC, NLM_F_DUMP, 1);
    std::vector<std::uint8_t> dump;
    socket.transact({reinterpret_cast<std::uint8_t*>(m.storage.data()), nlh->nlmsg_len},
                    "dump rules", [&](std::span<const std::uint8_t> message) {
                        dump.insert(dump.end(), message.begin(), message.end());
                    });
    write_dump(root / "nft_foreign", name, dump);
}

void gen_seed(const std::filesystem::path& root) {
    Message m;
    mnl_attr_put_u32(m.start(NFT_MSG_NEWGEN), NFTA_GEN_ID, htonl(12345));
    m.save(root / "nft_gen", "newgen");
    m.save(root / "nft_event", "newgen");
}

} // namespace

int main(int argc, char** argv) {
    const std::filesystem::path root = argc > 1 ? argv[1] : "corpus";
    table_seed(root);
    chain_seed(root);
    set_seeds(root);
    rule_seeds(root);
    gen_seed(root);
    foreign_seed(root);
    if (argc == 4 && std::string(argv[2]) == "--record") {
        record(root, argv[3]);
    }
    return 0;
}
