// A libiptc snapshot of one family's filter table, as a move-only handle.
#pragma once

#include "../tables.hpp"

#include <memory>

struct xtc_handle;

namespace memguard::iptc {

struct FamilyApi; // libip4tc or libip6tc entry points

class Table {
public:
    // iptc_init("filter"); throws LegacyTablesMissing or KernelError.
    static Table open(Family family);

    [[nodiscard]] KernelView read() const;
    // Edits the snapshot only; nothing reaches the kernel before commit().
    void apply(const Plan& plan);
    // Replaces the table in one setsockopt; throws CommitRace if somebody else changed it.
    void commit();

private:
    struct Free {
        const FamilyApi* api;
        void operator()(xtc_handle* h) const;
    };
    Table(Family family, const FamilyApi* api, xtc_handle* handle)
        : family_(family), api_(api), handle_(handle, Free{api}) {}
    [[noreturn]] void fail(const std::string& what) const;

    Family family_;
    const FamilyApi* api_;
    std::unique_ptr<xtc_handle, Free> handle_;
};

} // namespace memguard::iptc
