// The kernel side of our nftables tables: one netlink socket kept open for the backend's whole
// life (its port id owns our table), the generation id, dumps of our tables only, and commits.
#pragma once

#include "batch.hpp"
#include "model.hpp"
#include "netlink/socket.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

namespace memguard::nft {

// The ruleset moved on between our read and our commit (the kernel answered ERESTART to the
// batch's generation id): read again and retry.
class GenerationMoved : public netlink::NetlinkError {
    using NetlinkError::NetlinkError;
};

// The kernel refused one message of a batch (and so the whole batch); `message` says which
// ("add table inet memguard").
class BatchRefused : public netlink::NetlinkError {
public:
    BatchRefused(std::string message, int error, std::string_view kernel_message)
        : NetlinkError("commit nftables batch: " + message, error, kernel_message),
          message_(std::move(message)) {}
    [[nodiscard]] const std::string& message() const { return message_; }

private:
    std::string message_;
};

// The tables under our names as one generation held them (ours or not: TableModel::ours()).
struct Snapshot {
    std::uint32_t generation = 0;
    std::optional<TableModel> main;       // inet memguard
    std::optional<TableModel> closed;     // inet memguard_closed
    std::optional<TableModel> closed_alt; // inet memguard_closed_alt

    [[nodiscard]] std::array<const std::optional<TableModel>*, 3> tables() const {
        return {&main, &closed, &closed_alt};
    }
};

// What the kernel answered to the ownership probe.
enum class OwnedTables { supported, unsupported, unknown };

class Kernel {
public:
    Kernel(); // throws netlink::NetlinkError
    [[nodiscard]] std::uint32_t portid() const { return socket_.port_id(); }

    // NFT_MSG_GETGEN: the ruleset's generation id, bumped by every commit.
    std::uint32_t generation();
    // Reads both our tables between two equal generation ids (retrying a read that a commit
    // overlapped). Throws netlink::NetlinkError.
    Snapshot snapshot();
    // One table: nullopt when absent.
    std::optional<TableModel> dump_table(std::string_view name);

    // Sends the batch and checks every answer; the first error throws (GenerationMoved for
    // ERESTART), naming the message it was about. Test checkpoints nft_before_commit and
    // nft_after_commit (checkpoint.hpp) around it.
    void commit(Batch& batch);
    // Whether the kernel creates a table of ours with OWNER|PERSIST (6.9+), asked in a batch
    // that can never commit (nothing changes, no event, the generation stays): NEWTABLE
    // `inet memguard_probe` with the flags and NLM_F_EXCL, twice. Supported: the first is
    // accepted and the second finds it (EEXIST); unsupported: EOPNOTSUPP for the flags; unknown
    // for any other answer (the name is somebody else's).
    OwnedTables probe_owned_tables();
    std::uint32_t next_seq() { return seq_ += 100000; }

    // For tests: how many table dumps this object has made.
    [[nodiscard]] std::uint64_t dumps() const { return dumps_; }

private:
    void send(const Batch& batch);
    void read_answers(const Batch& batch);
    // 0 or the errno for each message of `batch`, once the kernel answered them all.
    std::vector<int> read_every_answer(const Batch& batch);

    netlink::Socket socket_;
    std::uint32_t seq_;
    std::uint64_t dumps_ = 0;
};

} // namespace memguard::nft
