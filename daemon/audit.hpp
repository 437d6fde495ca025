// The audit of blocked attempts: the NFLOG group our chain logs to, read through
// nfnetlink_log, aggregated so a flood cannot flood the journal, and logged with fields.
#pragma once

#include "fd.hpp"
#include "labels.hpp"
#include "netlink/audit.hpp"
#include "netlink/nflog.hpp"
#include "policy.hpp"
#include "recent_blocked.hpp"

#include <memory>
#include <optional>

namespace memguard {

class BlockedAudit {
public:
    // Subscribes to policy.log_group when policy.log_blocked, unsubscribes otherwise. Returns
    // true when fd() or timer_fd() changed and the event loop must watch the new ones.
    // Throws netlink::NetlinkError when the group cannot be bound.
    bool configure(const Policy& policy);

    [[nodiscard]] bool active() const { return listener_ != nullptr; }
    [[nodiscard]] int fd() const;       // readable when blocked packets arrived
    [[nodiscard]] int timer_fd() const; // fires once a second to flush aggregates

    void on_readable();
    void on_timer();
    // The answer to `explain ADDRESS`: what was blocked from it while the audit ran.
    [[nodiscard]] nlohmann::json explain(std::string_view address) const;

private:
    void log_due(netlink::AuditAggregator::Clock::time_point now);

    std::unique_ptr<netlink::NflogListener> listener_;
    netlink::AuditAggregator aggregator_;
    LabelIndex labels_; // the policy's guards and labels, for the log lines
    BlockedSources recent_;
    std::uint64_t lost_seen_ = 0;
    Fd timer_;
};

} // namespace memguard
