// The seam between the library and a kernel: what memguardd wants (desired.hpp) goes in, what a
// pass found and did (report.hpp) comes out. Each backend owns how its kernel holds the rules,
// how it reads them back, what drift means, how it commits atomically and what marks an object
// as its own: legacy/ (libiptc and ipset: x_tables) and nft/ (libnftnl: an owned nftables table).
#pragma once

#include "coverage.hpp"
#include "desired.hpp"
#include "kernel_error.hpp"
#include "kernel_match.hpp"
#include "report.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace memguard {

// Another writer changed the rules between our read and our commit; read again and retry.
class CommitRace : public KernelError {
    using KernelError::KernelError;
};

// Why a pass looks at the kernel: the timer's verify expects nothing to do and should cost
// little when so; an apply (start, reload, retry) expects to write.
enum class PassKind : std::uint8_t { verify, apply };

// The kernel's rules as a person reads them, for `status`.
struct ViewRule {
    std::size_t position = 0; // 1-based, within its chain
    std::string text;         // as the backend's own tool prints it (iptables-save, nft)
    bool ours = false;
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
};

struct ViewChain {
    std::string name; // "INPUT", "MEMGUARD", "input"
    bool exists = false;
    bool ours = false;           // false: somebody else's chain (INPUT) that holds rules of ours
    std::vector<ViewRule> rules; // in order; the family's own only, where chains are shared
};

struct ViewSet {
    std::string name;
    bool ours = false;
    bool usable = false; // holds plain networks we can compare with the allowlist
    std::size_t members = 0;
    std::uint32_t references = 0; // rules that match on it
};

// What our closing rules (drop or reject, on every path) have stopped since they were made.
struct BlockedCount {
    Family family = Family::ipv4;
    Protocol protocol = Protocol::tcp;
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    friend bool operator==(const BlockedCount&, const BlockedCount&) = default;
};

struct FamilyView {
    Family family = Family::ipv4;
    std::vector<ViewChain> chains;
    std::vector<ViewSet> sets;
    // Anything of ours in this family: a rule, chain, set or table.
    [[nodiscard]] bool has_ours() const;
};

class Backend {
public:
    Backend() = default;
    Backend(const Backend&) = delete;
    Backend& operator=(const Backend&) = delete;
    Backend(Backend&&) = delete;
    Backend& operator=(Backend&&) = delete;
    virtual ~Backend() = default;

    // Which backend this is. Its name(), "iptables-legacy" or "nftables", is the config key's
    // value and what logs and status print.
    [[nodiscard]] virtual BackendChoice kind() const = 0;
    [[nodiscard]] std::string_view name() const;
    // Where an admin sees our rules with the usual tools, for `status`.
    [[nodiscard]] virtual std::string_view how_to_see() const = 0;
    // What an admin should know about how this kernel holds our rules (an nftables table that
    // cannot be owned on a kernel before 6.9); empty when nothing. Known after the first pass.
    [[nodiscard]] virtual std::string caveat() const { return {}; }

    // Brings the kernel to `desired`: reads, compares and, if anything differs, repairs it in one
    // atomic commit, retrying a commit that lost a race. Whatever fails, the family (or both)
    // gets the fail-closed rules instead (loopback only, on `desired`'s ports, the default ports
    // and every port our rules already guard) and the report says why. Never throws.
    virtual Report reconcile(const Desired& desired, PassKind kind) = 0;
    // Compares only; never writes. Throws KernelError (or a netlink error) when it cannot read.
    virtual Report compare(const Desired& desired) = 0;
    // Takes out what is ours, and nothing else; `actions` says what went. Never throws.
    virtual Report remove() = 0;
    // Our rules and their neighbours as the kernel holds them, per family. Throws when unreadable.
    virtual std::vector<FamilyView> read() = 0;
    // The ports our rules guard now, so failing closed never opens a port an earlier run
    // closed. Best effort: {} when the kernel cannot be read.
    virtual std::vector<std::uint16_t> guarded_ports() = 0;
    // Per family and guarded protocol, what our closing rules counted (the kernel's own rule
    // counters; no NFLOG needed). Throws when the kernel cannot be read.
    virtual std::vector<BlockedCount> blocked() = 0;
    // What our rules judge beyond INPUT (DNAT paths, reverse path), by this backend's own rule of
    // what is ours. Reads the kernel; throws when it cannot.
    virtual Coverage coverage() = 0;
    // What our sets and rules hold for the source `address` (full-length) in its family, and
    // other tools' rules ahead of ours; read only. Throws when the kernel cannot be read.
    virtual KernelExplain explain(const Network& address) = 0;

    // A backend the kernel tells about changes gives a descriptor to poll; -1: none (polling
    // only). When it is readable, changed() reads what arrived and says whether our objects
    // changed or events were lost: a verify pass is due at once.
    [[nodiscard]] virtual int change_fd() const { return -1; }
    virtual bool changed() { return false; }
};

std::string_view to_string(BackendChoice choice);

struct BackendPick {
    BackendChoice kind = BackendChoice::iptables_legacy; // never automatic
    std::string why; // "the config asks for it", "the kernel has legacy x_tables", ...
};

// `automatic`: iptables-legacy where the kernel has legacy x_tables, else nftables.
BackendPick pick_backend(BackendChoice choice);
std::unique_ptr<Backend> make_backend(BackendChoice kind); // kind: not automatic

} // namespace memguard
