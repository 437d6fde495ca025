// One nftables transaction as bytes: BATCH_BEGIN (optionally pinned to a generation id),
// the messages, BATCH_END; each message remembers what it does, so an error the kernel
// reports for it (by sequence number) can say what failed. Internal to libfw/nft.
#pragma once

#include "handles.hpp"
#include "plan.hpp"

#include <linux/netlink.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace memguard::nft {

class Batch {
public:
    // `genid`: the generation the batch was computed from; the kernel refuses the batch with
    // ERESTART when the ruleset has moved on since (NFNL_BATCH_GENID).
    Batch(std::uint32_t first_seq, std::optional<std::uint32_t> genid);

    // Room for one message of up to `max_len` bytes; fill it with libnftnl, then call done().
    nlmsghdr* add(std::uint16_t type, std::uint16_t flags, std::string what, std::size_t max_len);
    void done(const nlmsghdr* nlh);
    // Closes the batch; bytes() is valid after this.
    void end();

    [[nodiscard]] std::span<const std::uint8_t> bytes() const;
    // What the message with `seq` does ("add rule to guard4"); "" when it is not ours.
    [[nodiscard]] std::string what(std::uint32_t seq) const;
    [[nodiscard]] std::uint32_t first_seq() const { return first_seq_; }
    // Messages that ask for an ACK (all but BEGIN and END).
    [[nodiscard]] std::size_t commands() const { return what_.size(); }

private:
    char* reserve(std::size_t len);

    std::vector<std::uint32_t> storage_; // 4-byte aligned, as netlink messages must be
    std::size_t used_ = 0;
    std::uint32_t first_seq_;
    std::vector<std::string> what_; // by seq - first_seq_ - 1
};

// Appends to `batch` what rebuilds `plan`'s table from nothing: NEWTABLE, chains, sets, their
// elements (several NEWSETELEM messages for large sets), rules.
void add_table(Batch& batch, const TablePlan& plan, std::uint32_t table_flags);
// NEWTABLE with `flags` and our marker. Creates the table with NLM_F_EXCL, so a table of that
// name that somebody made meanwhile is never written into; or (`adopt`, no NLM_F_EXCL) takes
// over an orphaned persistent one of ours, which must be asked for with OWNER|PERSIST again.
void add_new_table(Batch& batch, std::string_view table, std::uint32_t flags, bool adopt = false);
void add_delete_table(Batch& batch, std::string_view table);

} // namespace memguard::nft
