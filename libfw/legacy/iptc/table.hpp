// A libiptc snapshot of one family's filter or mangle table, as a move-only handle.
#pragma once

#include "../tables.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

struct xtc_handle;

namespace memguard::iptc {

struct FamilyApi; // libip4tc or libip6tc entry points

class Table {
public:
    // iptc_init(table): "filter" or "mangle"; throws LegacyTablesMissing or KernelError.
    static Table open(Family family, const char* table = "filter");

    // The filter table's part of the view (INPUT, MEMGUARD).
    [[nodiscard]] KernelView read() const;
    // The mangle table's part (MEMGUARD, FORWARD, PREROUTING).
    [[nodiscard]] MangleView read_mangle() const;
    // Edit the snapshot only; nothing reaches the kernel before commit(). apply() is for a filter
    // table, apply_mangle() for a mangle one.
    void apply(const Plan& plan);
    void apply_mangle(const ManglePlan& plan);
    // Replaces the table in one setsockopt; throws CommitRace if somebody else changed it.
    void commit();
    // Every rule of every chain, in the kernel's order: the chain's name and the entry's bytes
    // (`next_offset` long), for readers of tables that are not ours (doctor's nat rules).
    using EntryVisitor =
        std::function<void(const std::string& chain, std::span<const std::uint8_t> entry)>;
    void for_each_entry(const EntryVisitor& visit) const;

private:
    struct Free {
        const FamilyApi* api;
        void operator()(xtc_handle* h) const;
    };
    Table(Family family, const char* table, const FamilyApi* api, xtc_handle* handle)
        : family_(family), table_(table), api_(api), handle_(handle, Free{api}) {}
    [[noreturn]] void fail(const std::string& what) const;
    [[nodiscard]] std::vector<KernelRule> read_chain(const std::string& name) const;
    [[nodiscard]] std::uint32_t references(const std::string& name) const;
    // MEMGUARD: create, erase [from, from + count), insert at from; then the rules of a built-in
    // chain at `deletes` go and `top` goes to its top.
    void edit_chain(const ChainEdit& edit);
    void edit_hook(const std::string& name, const std::vector<std::size_t>& deletes,
                   const std::vector<Rule>& top);
    void delete_chain();

    Family family_;
    std::string table_;
    const FamilyApi* api_;
    std::unique_ptr<xtc_handle, Free> handle_;
};

} // namespace memguard::iptc
