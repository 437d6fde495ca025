#include "journal_sink.hpp"

#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

namespace memguard {

thread_local const LogFields* JournalSink::current = nullptr;

namespace {

int priority(spdlog::level::level_enum level) {
    switch (level) {
    case spdlog::level::critical:
        return LOG_CRIT;
    case spdlog::level::err:
        return LOG_ERR;
    case spdlog::level::warn:
        return LOG_WARNING;
    case spdlog::level::info:
        return LOG_INFO;
    default:
        return LOG_DEBUG;
    }
}

} // namespace

void JournalSink::sink_it_(const spdlog::details::log_msg& msg) {
    std::vector<std::string> fields;
    fields.push_back("MESSAGE=" + std::string(msg.payload.data(), msg.payload.size()));
    fields.push_back("PRIORITY=" + std::to_string(priority(msg.level)));
    fields.emplace_back("SYSLOG_IDENTIFIER=memguardd");
    if (current != nullptr) {
        fields.push_back("MESSAGE_ID=" + std::string(message_id(current->event)));
        fields.push_back("MEMGUARD_EVENT=" + std::string(to_string(current->event)));
        if (current->family) {
            fields.push_back("MEMGUARD_FAMILY=" + std::string(to_string(*current->family)));
        }
        for (const auto& [name, value] : current->extra) {
            fields.push_back("MEMGUARD_" + name);
            fields.back().append("=").append(value);
        }
    }
    std::vector<iovec> iov;
    iov.reserve(fields.size());
    for (auto& f : fields) {
        iov.push_back({f.data(), f.size()});
    }
    // Best effort: a journal that is gone must not stop the guard.
    sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

} // namespace memguard
