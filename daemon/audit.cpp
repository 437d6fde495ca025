#include "audit.hpp"

#include "log.hpp"
#include "timer.hpp"

namespace memguard {

namespace {

std::string protocol_name(const std::optional<Protocol>& p) {
    return p ? std::string(to_string(*p)) : "other";
}

} // namespace

bool BlockedAudit::configure(const Policy& policy) {
    labels_ = LabelIndex(policy);
    if (!policy.log_blocked) {
        const bool changed = active();
        listener_.reset();
        timer_.reset();
        return changed;
    }
    if (listener_ && listener_->group() == policy.log_group) {
        return false;
    }
    listener_.reset(); // unbind the old group before binding the new one
    listener_ = std::make_unique<netlink::NflogListener>(policy.log_group);
    timer_ = make_periodic_timer(std::chrono::seconds(1));
    return true;
}

int BlockedAudit::fd() const {
    return listener_ ? listener_->fd() : -1;
}
int BlockedAudit::timer_fd() const {
    return timer_.get();
}

// Both handlers may run for an event that was pending when a reload turned the audit off.
void BlockedAudit::on_readable() {
    if (!listener_) {
        return;
    }
    const auto now = netlink::AuditAggregator::Clock::now();
    const auto wall_now = Clock::now();
    for (const auto& packet : listener_->drain()) {
        aggregator_.add(packet, now);
        recent_.add(packet, wall_now);
    }
    const auto lost = listener_->counters().lost;
    if (lost > lost_seen_) {
        aggregator_.add_lost(lost - lost_seen_, now);
        lost_seen_ = lost;
    }
    log_due(now);
}

nlohmann::json BlockedAudit::explain(std::string_view address) const {
    if (!active()) {
        return not_logging_answer();
    }
    const auto source = parse_network(address);
    if (!source || source->prefix != source->max_prefix()) {
        return {{"error", "not an address: \"" + std::string(address.substr(0, 40)) + "\""}};
    }
    return recent_.about(*source);
}

void BlockedAudit::on_timer() {
    if (!timer_) {
        return;
    }
    acknowledge_timer(timer_);
    log_due(netlink::AuditAggregator::Clock::now());
}

void BlockedAudit::log_due(netlink::AuditAggregator::Clock::time_point now) {
    for (const auto& s : aggregator_.flush(now)) {
        LogFields fields{Event::blocked, s.family, {{"PACKETS", std::to_string(s.packets)}}};
        if (!s.source.empty()) {
            fields.extra.emplace_back("SOURCE", s.source);
            fields.extra.emplace_back("PROTOCOL", protocol_name(s.protocol));
            fields.extra.emplace_back("PORT", std::to_string(s.dport));
            fields.extra.emplace_back("IFACE", s.in_iface);
        }
        std::string message = s.to_string();
        const auto source = parse_network(s.source);
        const std::string guard = s.protocol ? labels_.guard_of(*s.protocol, s.dport) : "";
        const std::string label = source ? labels_.label_of(*source) : "";
        if (!guard.empty()) {
            fields.extra.emplace_back("GUARD", guard);
            message += " (guard " + guard + ")";
        }
        if (!label.empty()) {
            // Allowed for another guard's ports, or a label's network narrower than the rule.
            fields.extra.emplace_back("LABEL", label);
            message += " (source in \"" + label + "\")";
        }
        log_event(spdlog::level::warn, fields, message);
    }
}

} // namespace memguard
