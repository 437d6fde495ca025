// The legacy backend's view of x_tables: read the rules we care about, apply a plan, commit it as
// one transaction per family, and our ipset beside it. libiptc implements it (iptc/table.cpp);
// tests can stand in for the kernel.
#pragma once

#include "backend.hpp"
#include "diff.hpp"
#include "kernel_view.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace memguard {

// The kernel has no legacy x_tables for this family (built without
// CONFIG_NETFILTER_XTABLES_LEGACY / CONFIG_IP_NF_IPTABLES): nothing can be enforced.
class LegacyTablesMissing : public KernelError {
    using KernelError::KernelError;
};

// Another program has held the xtables lock past our wait.
class LockBusy : public KernelError {
    using KernelError::KernelError;
};

// How a transaction takes the xtables lock.
enum class LockWait : std::uint8_t {
    wait,        // up to 10 s, then LockBusy
    or_unlocked, // 1 s, then without it: for a port that is open until we write (a lock held
                 // for minutes must not keep it open)
};

// One snapshot of one family's filter table, with the lock held for its whole life.
class Transaction {
public:
    Transaction() = default;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    Transaction(Transaction&&) = delete;
    Transaction& operator=(Transaction&&) = delete;
    virtual ~Transaction() = default;
    [[nodiscard]] virtual KernelView read() const = 0;
    virtual void apply(const Plan& plan) = 0;
    virtual void commit() = 0;
    // True when LockWait::or_unlocked gave up on the lock: this transaction holds none.
    [[nodiscard]] virtual bool unlocked() const = 0;
};

class Tables {
public:
    Tables() = default;
    Tables(const Tables&) = delete;
    Tables& operator=(const Tables&) = delete;
    Tables(Tables&&) = delete;
    Tables& operator=(Tables&&) = delete;
    virtual ~Tables() = default;
    // The table as it is now, read without the lock: the kernel copies it atomically, so this
    // is a consistent table, but a commit must not be based on it (use begin()).
    virtual KernelView snapshot(Family family) = 0;
    virtual std::unique_ptr<Transaction> begin(Family family, LockWait wait = LockWait::wait) = 0;
    // Our ipsets of the family by name (allowset.hpp). Not part of a transaction: ipset has its
    // own atomic swap, and the xtables lock does not cover it.
    virtual std::optional<SetState> read_set(Family family, const std::string& name) = 0;
    virtual void load_set(Family family, const std::string& name,
                          const std::vector<Network>& members,
                          const std::optional<SetState>& current) = 0;
    virtual void drop_set(Family family, const std::string& name) = 0;
};

std::unique_ptr<Tables> make_iptc_tables();

} // namespace memguard
