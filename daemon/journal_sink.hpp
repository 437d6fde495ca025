// An spdlog sink that writes to journald with structured fields: MESSAGE_ID and MEMGUARD_*
// fields come from the LogFields of the call that is being logged.
#pragma once

#include "log.hpp"

#include <spdlog/sinks/base_sink.h>

#include <mutex>

namespace memguard {

class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    // The fields of the log_event call in progress on this thread (null outside one).
    static thread_local const LogFields* current;

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override;
    void flush_() override {}
};

} // namespace memguard
