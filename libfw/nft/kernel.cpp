#include "kernel.hpp"

#include "checkpoint.hpp"
#include "decode.hpp"
#include "netlink/detail.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <sys/socket.h>

#include <cerrno>
#include <ctime>
#include <vector>

namespace memguard::nft {

namespace {

namespace detail = netlink::detail;

constexpr int kDumpAttempts = 10;
constexpr std::size_t kBytesPerAnswer = 2048;
constexpr std::size_t kAnswerHeadroom = std::size_t{256} << 10;

constexpr std::uint16_t nft_type(unsigned msg) {
    return detail::nfnl_type(NFNL_SUBSYS_NFTABLES, msg);
}

// A GET request on family inet, with `attrs` NUL-terminated string attributes.
detail::Request
get_request(unsigned msg, std::uint16_t flags,
            std::initializer_list<std::pair<std::uint16_t, std::string_view>> attrs) {
    detail::Request request;
    nlmsghdr* nlh =
        request.header(nft_type(msg), static_cast<std::uint16_t>(NLM_F_REQUEST | flags));
    detail::put_nfgenmsg(nlh, NFPROTO_INET, 0);
    for (const auto& [type, value] : attrs) {
        const std::string v(value);
        mnl_attr_put_strz(nlh, type, v.c_str());
    }
    return request;
}

void add_rules(netlink::Socket& socket, TableModel& table) {
    auto request = get_request(NFT_MSG_GETRULE, NLM_F_DUMP, {{NFTA_RULE_TABLE, table.name}});
    socket.transact(request.bytes(), "list rules of inet " + table.name, [&](Bytes m) {
        auto r = decode_rule(m);
        if (r && r->family == NFPROTO_INET && r->table == table.name) {
            if (ChainModel* c = table.chain(r->rule.chain)) {
                c->rules.push_back(std::move(r->rule));
            }
        }
    });
}

void add_chains(netlink::Socket& socket, TableModel& table) {
    auto request = get_request(NFT_MSG_GETCHAIN, NLM_F_DUMP, {});
    socket.transact(request.bytes(), "list chains of inet " + table.name, [&](Bytes m) {
        auto c = decode_chain(m);
        if (c && c->family == NFPROTO_INET && c->table == table.name) {
            table.chains.push_back(std::move(c->chain));
        }
    });
}

void add_sets(netlink::Socket& socket, TableModel& table) {
    auto request = get_request(NFT_MSG_GETSET, NLM_F_DUMP, {{NFTA_SET_TABLE, table.name}});
    socket.transact(request.bytes(), "list sets of inet " + table.name, [&](Bytes m) {
        auto s = decode_set(m);
        if (s && s->family == NFPROTO_INET && s->table == table.name) {
            table.sets.push_back(std::move(s->set));
        }
    });
    for (SetModel& set : table.sets) {
        std::vector<IntervalElement> elements;
        auto elems = get_request(
            NFT_MSG_GETSETELEM, NLM_F_DUMP,
            {{NFTA_SET_ELEM_LIST_TABLE, table.name}, {NFTA_SET_ELEM_LIST_SET, set.name}});
        socket.transact(elems.bytes(), "list elements of set " + set.name, [&](Bytes m) {
            auto e = decode_elements(m);
            if (e && e->key_len == address_size(set.family)) {
                elements.insert(elements.end(), e->elements.begin(), e->elements.end());
            }
        });
        set.labels = element_labels(elements);
        set.ranges = ranges_from_elements(set.family, std::move(elements));
    }
}

} // namespace

Kernel::Kernel()
    : socket_(netlink::Bus::netfilter),
      seq_(static_cast<std::uint32_t>(std::time(nullptr)) + 0x40000000U) {
    // An answer the kernel dropped must end in a timeout, never in a recv that waits for ever.
    socket_.set_nonblocking(true);
}

std::uint32_t Kernel::generation() {
    detail::Request request;
    nlmsghdr* nlh = request.header(nft_type(NFT_MSG_GETGEN), NLM_F_REQUEST | NLM_F_ACK);
    detail::put_nfgenmsg(nlh, NFPROTO_UNSPEC, 0);
    std::optional<std::uint32_t> gen;
    socket_.transact(request.bytes(), "read the nftables generation id",
                     [&](Bytes m) { gen = decode_gen(m); });
    if (!gen) {
        throw netlink::NetlinkError("read the nftables generation id: no NEWGEN answer", EBADMSG);
    }
    return *gen;
}

std::optional<TableModel> Kernel::dump_table(std::string_view name) {
    ++dumps_;
    std::optional<TableModel> table;
    auto request = get_request(NFT_MSG_GETTABLE, NLM_F_ACK, {{NFTA_TABLE_NAME, name}});
    try {
        socket_.transact(request.bytes(), "read table inet " + std::string(name), [&](Bytes m) {
            if (auto t = decode_table(m); t && t->table.name == name) {
                table = std::move(t->table);
            }
        });
    } catch (const netlink::NetlinkError& e) {
        if (e.error() == ENOENT) {
            return std::nullopt;
        }
        throw;
    }
    if (table) {
        add_chains(socket_, *table);
        add_sets(socket_, *table);
        add_rules(socket_, *table);
    }
    return table;
}

Snapshot Kernel::snapshot() {
    for (int attempt = 1;; ++attempt) {
        Snapshot snap;
        snap.generation = generation();
        try {
            snap.main = dump_table(kTableName);
            snap.closed = dump_table(kClosedTableName);
            snap.closed_alt = dump_table(kClosedAltTableName);
        } catch (const netlink::NetlinkError& e) {
            // NLM_F_DUMP_INTR (libmnl: EINTR) or a set deleted mid-dump: the ruleset moved.
            if ((e.error() != EINTR && e.error() != ENOENT) || attempt == kDumpAttempts) {
                throw;
            }
            continue;
        }
        if (generation() == snap.generation) {
            return snap;
        }
        if (attempt == kDumpAttempts) {
            throw netlink::NetlinkError("read our nftables tables: the ruleset kept changing",
                                        EAGAIN);
        }
    }
}

void Kernel::commit(Batch& batch) {
    checkpoint("nft_before_commit");
    send(batch);
    read_answers(batch);
    checkpoint("nft_after_commit");
}

OwnedTables Kernel::probe_owned_tables() {
    constexpr std::string_view kProbeTable = "memguard_probe";
    Batch batch(next_seq(), std::nullopt);
    add_new_table(batch, kProbeTable, kTableFlagOwner | kTableFlagPersist);
    add_new_table(batch, kProbeTable, kTableFlagOwner | kTableFlagPersist);
    batch.end();
    send(batch);
    const std::vector<int> answers = read_every_answer(batch);
    if (answers.size() == 2 && answers[0] == 0 && answers[1] == EEXIST) {
        return OwnedTables::supported;
    }
    if (!answers.empty() && answers[0] == EOPNOTSUPP) {
        return OwnedTables::unsupported;
    }
    return OwnedTables::unknown;
}

void Kernel::send(const Batch& batch) {
    const auto bytes = batch.bytes();
    // netlink_sendmsg refuses a datagram larger than the send buffer (less 32 bytes).
    const int want = static_cast<int>(bytes.size() + 65536);
    if (setsockopt(socket_.fd(), SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) < 0) {
        setsockopt(socket_.fd(), SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
    }
    // Every command of the batch is acknowledged, each ACK its own skb of about 1 KiB in the
    // receive buffer: the default 208 KiB holds about 200, and a lost ACK leaves the batch's
    // outcome unknown. A set of 100,000 ranges takes about 250 commands.
    socket_.set_receive_buffer(kAnswerHeadroom + batch.commands() * kBytesPerAnswer);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    const ssize_t sent = sendto(socket_.fd(), bytes.data(), bytes.size(), 0,
                                reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
    if (sent < 0) {
        throw netlink::NetlinkError(
            "send an nftables batch of " + std::to_string(bytes.size()) + " bytes", errno);
    }
}

} // namespace memguard::nft
