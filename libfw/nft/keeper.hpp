// Keeps our nftables table in the state Desired asks for: read (one generation), compare,
// rebuild in one atomic batch, fail closed. Both families live in one table and one batch, so
// they succeed or fail together. The Backend adapter (nft_backend.hpp) turns its results into
// the seam's Report.
#pragma once

#include "compare.hpp"
#include "desired.hpp"
#include "events.hpp"
#include "kernel.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace memguard::nft {

struct NftOptions {
    // Create the table with NFT_TABLE_F_OWNER|PERSIST (only our socket may change it) where the
    // kernel can. Off for tests that tamper through the nft CLI (MEMGUARD_TEST_NFT_UNOWNED=1).
    bool own_table = true;
};

// What one pass found and did, for both families.
struct PassResult {
    std::vector<Drift> drift;     // before the pass
    std::vector<Network> revoked; // networks our sets held before the pass, no longer allowed
    bool committed = false;
    unsigned attempts = 0;
    bool fail_closed = false;
    std::string error;
    std::vector<std::string> refused;
    std::string actions;
};

class Keeper {
public:
    explicit Keeper(NftOptions options = {}); // throws netlink::NetlinkError

    // Never throws: on any failure the fail-closed rules go in instead, and the result says why.
    PassResult reconcile(const Desired& desired, bool verify);
    // Reads and compares; never writes. Throws netlink::NetlinkError.
    PassResult compare(const Desired& desired);
    // Deletes our tables, nothing else. Never throws.
    PassResult remove();
    // Our tables as the kernel holds them. Throws netlink::NetlinkError.
    Snapshot read();
    // Ports our tables' jumps guard now; {} when unreadable.
    std::vector<std::uint16_t> guarded_ports();

    // False when the kernel lacks OWNER|PERSIST (before 6.9) or the options said so. Learnt
    // from the kernel at every full pass (Kernel::probe_owned_tables), never from a refusal
    // about somebody else's table.
    [[nodiscard]] bool owned() const { return owned_; }
    // Why the table is unowned when the kernel lacks the owner flags; "" otherwise. The daemon
    // says so when it changes.
    [[nodiscard]] const std::string& ownership_note() const { return ownership_note_; }
    [[nodiscard]] int change_fd() const { return events_.fd(); }
    bool changed();
    [[nodiscard]] std::uint32_t portid() const { return kernel_.portid(); }
    // For tests: table dumps made so far (a verify with nothing changed makes none).
    [[nodiscard]] std::uint64_t dumps() const { return kernel_.dumps(); }

private:
    void learn_ownership();
    void apply(const Desired& desired, PassResult& result);
    // Our table is owned by another live socket (another memguardd process holds it).
    [[nodiscard]] bool held_by_another(const Snapshot& snap) const;
    static void leave_to_owner(const Snapshot& snap, PassResult& result);
    [[nodiscard]] PassResult compare_with(const Desired& desired, const Snapshot& snap) const;
    void remember_own_commit(const Desired& desired, std::uint32_t read_at);
    void rebuild(std::string_view table, const Desired& desired, const Snapshot& snap);
    std::optional<std::string_view> fail_closed_once(const Desired& desired, const Snapshot& snap,
                                                     PassResult& result);
    void fail_closed(const Desired& desired, const std::optional<Snapshot>& known,
                     PassResult& result);
    [[nodiscard]] std::uint32_t table_flags() const;
    [[nodiscard]] Ownership ownership() const { return {owned_}; }

    EventWatch events_; // before kernel_: joined before any dump
    Kernel kernel_;
    bool own_wanted_;
    bool owned_;
    std::string ownership_note_;
    // The last pass found everything as `in_sync_desired_` wants at this generation.
    std::optional<std::uint32_t> in_sync_generation_;
    std::optional<Desired> in_sync_desired_;
};

inline constexpr std::string_view kRefused =
    "table inet memguard is not memguardd's (no memguard marker); left alone";
inline constexpr std::string_view kRefusedClosed =
    "table inet memguard_closed is not memguardd's (no memguard marker); left alone";

bool ours(const std::optional<TableModel>& table);
// Takes out an existing table of ours inside `batch`, adopting it first (NEWTABLE with
// OWNER|PERSIST, no NLM_F_EXCL) when it is persistent or owned and not by us.
void delete_ours(Batch& batch, const TableModel& table, std::uint32_t portid);

// The table the fail-closed rules go into when `inet memguard` is somebody else's: the first of
// inet memguard_closed and inet memguard_closed_alt that is ours or absent; nullopt when both
// are somebody else's.
std::optional<std::string_view> free_closed_table(const Snapshot& snap);

// The ports the jump rules of our tables in `snap` guard.
std::vector<std::uint16_t> guarded_ports(const Snapshot& snap);

} // namespace memguard::nft
