#include "table.hpp"

#include "../allowset.hpp"
#include "entry.hpp"
#include "lock.hpp"
#include "snapshot.hpp"

#include <libiptc/libiptc.h>
extern "C" {
#include <libiptc/libip6tc.h>
}

#include <cerrno>

namespace memguard::iptc {

// libip4tc and libip6tc differ only in prefix and entry type; this is the one place that
// tells them apart. Entries are handled as bytes (`next_offset` long) above this point.
struct FamilyApi {
    const char* name;
    xtc_handle* (*init)(const char*);
    void (*free)(xtc_handle*);
    const char* (*first_chain)(xtc_handle*);
    const char* (*next_chain)(xtc_handle*);
    int (*is_chain)(const char*, xtc_handle*);
    int (*get_references)(unsigned*, const char*, xtc_handle*);
    const void* (*first_rule)(const char*, xtc_handle*);
    const void* (*next_rule)(const void*, xtc_handle*);
    const char* (*get_target)(const void*, xtc_handle*);
    std::size_t (*entry_size)(const void*);
    int (*create_chain)(const char*, xtc_handle*);
    int (*flush_entries)(const char*, xtc_handle*);
    int (*delete_chain)(const char*, xtc_handle*);
    int (*insert_entry)(const char*, const void*, unsigned, xtc_handle*);
    int (*delete_num_entry)(const char*, unsigned, xtc_handle*);
    int (*commit)(xtc_handle*);
    const char* (*strerror)(int);
};

namespace {

const FamilyApi ipv4_api{
    "ipv4",
    iptc_init,
    iptc_free,
    iptc_first_chain,
    iptc_next_chain,
    iptc_is_chain,
    iptc_get_references,
    [](const char* c, xtc_handle* h) -> const void* { return iptc_first_rule(c, h); },
    [](const void* e, xtc_handle* h) -> const void* {
        return iptc_next_rule(static_cast<const ipt_entry*>(e), h);
    },
    [](const void* e, xtc_handle* h) {
        return iptc_get_target(static_cast<const ipt_entry*>(e), h);
    },
    [](const void* e) -> std::size_t { return static_cast<const ipt_entry*>(e)->next_offset; },
    iptc_create_chain,
    iptc_flush_entries,
    iptc_delete_chain,
    [](const char* c, const void* e, unsigned n, xtc_handle* h) {
        return iptc_insert_entry(c, static_cast<const ipt_entry*>(e), n, h);
    },
    iptc_delete_num_entry,
    iptc_commit,
    iptc_strerror,
};

const FamilyApi ipv6_api{
    "ipv6",
    ip6tc_init,
    ip6tc_free,
    ip6tc_first_chain,
    ip6tc_next_chain,
    ip6tc_is_chain,
    ip6tc_get_references,
    [](const char* c, xtc_handle* h) -> const void* { return ip6tc_first_rule(c, h); },
    [](const void* e, xtc_handle* h) -> const void* {
        return ip6tc_next_rule(static_cast<const ip6t_entry*>(e), h);
    },
    [](const void* e, xtc_handle* h) {
        return ip6tc_get_target(static_cast<const ip6t_entry*>(e), h);
    },
    [](const void* e) -> std::size_t { return static_cast<const ip6t_entry*>(e)->next_offset; },
    ip6tc_create_chain,
    ip6tc_flush_entries,
    ip6tc_delete_chain,
    [](const char* c, const void* e, unsigned n, xtc_handle* h) {
        return ip6tc_insert_entry(c, static_cast<const ip6t_entry*>(e), n, h);
    },
    ip6tc_delete_num_entry,
    ip6tc_commit,
    ip6tc_strerror,
};

const std::string chain(chain_name);
const std::string input(input_chain);

} // namespace

void Table::Free::operator()(xtc_handle* h) const {
    if (h != nullptr) { // iptc_free(NULL) crashes
        api->free(h);
    }
}

void Table::fail(const std::string& what) const {
    const int error = errno;
    const std::string message =
        std::string(api_->name) + " " + table_ + ": " + what + ": " + api_->strerror(error);
    if (error == EAGAIN) {
        throw CommitRace(message, error);
    }
    throw KernelError(message, error);
}

Table Table::open(Family family, const char* table) {
    const FamilyApi* api = family == Family::ipv4 ? &ipv4_api : &ipv6_api;
    xtc_handle* handle = api->init(table);
    if (handle == nullptr) {
        const int error = errno;
        throw_read_error(family, error, api->strerror(error), table);
    }
    return {family, table, api, handle};
}

std::vector<KernelRule> Table::read_chain(const std::string& name) const {
    std::vector<KernelRule> out;
    const SetNames sets = kernel_set_names();
    for (const void* e = api_->first_rule(name.c_str(), handle_.get()); e != nullptr;
         e = api_->next_rule(e, handle_.get())) {
        const char* target = api_->get_target(e, handle_.get());
        const std::span bytes(static_cast<const std::uint8_t*>(e), api_->entry_size(e));
        auto decoded = decode_entry(family_, bytes, target != nullptr ? target : "", sets);
        out.push_back({std::move(decoded.rule), std::move(decoded.comment),
                       target != nullptr ? target : "", decoded.packets, decoded.bytes});
    }
    return out;
}

void Table::for_each_entry(const EntryVisitor& visit) const {
    for (const char* c = api_->first_chain(handle_.get()); c != nullptr;
         c = api_->next_chain(handle_.get())) {
        const std::string name(c);
        for (const void* e = api_->first_rule(c, handle_.get()); e != nullptr;
             e = api_->next_rule(e, handle_.get())) {
            visit(name, std::span(static_cast<const std::uint8_t*>(e), api_->entry_size(e)));
        }
    }
}

std::uint32_t Table::references(const std::string& name) const {
    unsigned references = 0;
    return api_->get_references(&references, name.c_str(), handle_.get()) != 0 ? references : 0;
}

KernelView Table::read() const {
    KernelView view;
    view.family = family_;
    view.input = read_chain(input);
    view.chain_exists = api_->is_chain(chain.c_str(), handle_.get()) != 0;
    if (view.chain_exists) {
        view.chain = read_chain(chain);
        view.chain_references = references(chain);
    }
    return view;
}

MangleView Table::read_mangle() const {
    MangleView view;
    view.forward = read_chain(std::string(forward_chain));
    view.prerouting = read_chain(std::string(prerouting_chain));
    view.chain_exists = api_->is_chain(chain.c_str(), handle_.get()) != 0;
    if (view.chain_exists) {
        view.chain = read_chain(chain);
        view.chain_references = references(chain);
    }
    return view;
}

void Table::edit_chain(const ChainEdit& edit) {
    auto* h = handle_.get();
    const SetNames sets = kernel_set_names();
    if (edit.create_chain && api_->create_chain(chain.c_str(), h) == 0) {
        fail("create chain " + chain);
    }
    for (std::size_t i = edit.erase_count; i-- > 0;) {
        const std::size_t at = edit.erase_from + i;
        if (api_->delete_num_entry(chain.c_str(), static_cast<unsigned>(at), h) == 0) {
            fail("delete rule " + std::to_string(at + 1) + " of " + chain);
        }
    }
    for (std::size_t i = 0; i < edit.insert.size(); ++i) {
        const auto entry = encode_entry(edit.insert[i], sets);
        const auto at = static_cast<unsigned>(edit.erase_from + i);
        if (api_->insert_entry(chain.c_str(), entry.data(), at, h) == 0) {
            fail("insert \"" + to_string(edit.insert[i]) + "\" at " + chain + " " +
                 std::to_string(at + 1));
        }
    }
}

void Table::edit_hook(const std::string& name, const std::vector<std::size_t>& deletes,
                      const std::vector<Rule>& top) {
    auto* h = handle_.get();
    for (const auto position : deletes) {
        if (api_->delete_num_entry(name.c_str(), static_cast<unsigned>(position), h) == 0) {
            fail("delete rule " + std::to_string(position + 1) + " of " + name);
        }
    }
    for (std::size_t i = 0; i < top.size(); ++i) {
        const auto entry = encode_entry(top[i]);
        if (api_->insert_entry(name.c_str(), entry.data(), static_cast<unsigned>(i), h) == 0) {
            fail("insert \"" + to_string(top[i]) + "\" at " + name + " " + std::to_string(i + 1));
        }
    }
}

void Table::delete_chain() {
    if (api_->flush_entries(chain.c_str(), handle_.get()) == 0) {
        fail("flush " + chain);
    }
    if (api_->delete_chain(chain.c_str(), handle_.get()) == 0) {
        fail("delete chain " + chain + " (is another rule still jumping to it?)");
    }
}

void Table::apply(const Plan& plan) {
    edit_chain(plan);
    edit_hook(input, plan.input_deletes, plan.jumps);
    if (plan.delete_chain) {
        delete_chain();
    }
}

void Table::apply_mangle(const ManglePlan& plan) {
    edit_chain(plan);
    edit_hook(std::string(forward_chain), plan.forward_deletes, plan.forward);
    edit_hook(std::string(prerouting_chain), plan.prerouting_deletes, plan.prerouting);
    if (plan.delete_chain) {
        delete_chain();
    }
}

void Table::commit() {
    if (api_->commit(handle_.get()) == 0) {
        fail("commit the " + table_ + " table");
    }
}

namespace {

std::optional<XtablesLock> take_lock(LockWait wait) {
    if (wait == LockWait::wait) {
        return XtablesLock::acquire();
    }
    try {
        return XtablesLock::acquire(std::chrono::seconds(1));
    } catch (const LockBusy&) {
        return std::nullopt;
    }
}

// The mangle table, or nullopt when the kernel has none for the family.
std::optional<Table> open_mangle(Family family) {
    try {
        return Table::open(family, "mangle");
    } catch (const LegacyTablesMissing&) {
        return std::nullopt;
    }
}

// Both tables of a family under one hold of the lock (flock: a second hold by this process
// would wait for the first). Filter is committed first, then mangle.
class IptcTransaction final : public Transaction {
public:
    IptcTransaction(Family family, LockWait wait)
        : family_(family), lock_(take_lock(wait)), filter_(Table::open(family)),
          mangle_(open_mangle(family)) {}
    [[nodiscard]] KernelView read() const override {
        KernelView view = filter_.read();
        if (mangle_) {
            view.mangle = mangle_->read_mangle();
        }
        return view;
    }
    void apply(const Plan& plan) override {
        filter_.apply(plan);
        if (mangle_) {
            mangle_->apply_mangle(plan.mangle);
        } else if (!plan.mangle.empty()) {
            throw KernelError(std::string(to_string(family_)) + ": no mangle table to write to",
                              ENOENT);
        }
    }
    void commit() override {
        filter_.commit(); // a table without edits is not written at all (libiptc)
        if (mangle_) {
            mangle_->commit();
        }
    }
    [[nodiscard]] bool unlocked() const override { return !lock_; }

private:
    Family family_;
    // Taken before the snapshot is read, released after the commit; none when LockWait said
    // an open port must not wait for it.
    std::optional<XtablesLock> lock_;
    Table filter_;
    std::optional<Table> mangle_;
};

class IptcTables final : public Tables {
public:
    KernelView snapshot(Family family) override { return read_snapshot(family); }
    std::optional<SetState> read_set(Family family, const std::string& name) override {
        return memguard::read_set(family, name);
    }
    void load_set(Family family, const std::string& name, const std::vector<Network>& members,
                  const std::optional<SetState>& current) override {
        memguard::load_set(family, name, members, current);
    }
    void drop_set(Family /*family*/, const std::string& name) override { memguard::drop_set(name); }
    std::unique_ptr<Transaction> begin(Family family, LockWait wait) override {
        return std::make_unique<IptcTransaction>(family, wait);
    }
};

} // namespace

} // namespace memguard::iptc

namespace memguard {
std::unique_ptr<Tables> make_iptc_tables() {
    return std::make_unique<iptc::IptcTables>();
}
} // namespace memguard
