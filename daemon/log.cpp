#include "log.hpp"

#include "journal_sink.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace memguard {

std::string_view to_string(Event e) {
    switch (e) {
    case Event::start:
        return "start";
    case Event::apply:
        return "apply";
    case Event::drift:
        return "drift";
    case Event::repair:
        return "repair";
    case Event::conflict:
        return "conflict";
    case Event::reload:
        return "reload";
    case Event::config:
        return "config";
    case Event::error:
        return "error";
    case Event::stop:
        return "stop";
    case Event::revoke:
        return "revoke";
    case Event::blocked:
        return "blocked";
    }
    return "unknown";
}

namespace {
bool to_journal = false;
}

void init_logging() {
    to_journal = std::getenv("JOURNAL_STREAM") != nullptr;
    std::shared_ptr<spdlog::logger> logger;
    if (to_journal) {
        logger = std::make_shared<spdlog::logger>("memguardd", std::make_shared<JournalSink>());
    } else {
        logger = std::make_shared<spdlog::logger>(
            "memguardd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        logger->set_pattern("memguardd: %l: %v");
    }
    logger->flush_on(spdlog::level::trace); // stderr may be a pipe a test is reading
    spdlog::set_default_logger(logger);
}

void log_event(spdlog::level::level_enum level, const LogFields& fields,
               const std::string& message) {
    if (to_journal) {
        JournalSink::current = &fields;
        spdlog::log(level, "{}", message);
        JournalSink::current = nullptr;
        return;
    }
    std::string text = message + " [event=" + std::string(to_string(fields.event));
    if (fields.family) {
        text += " family=" + std::string(to_string(*fields.family));
    }
    for (const auto& [name, value] : fields.extra) {
        text.append(" ").append(name).append("=").append(value);
    }
    spdlog::log(level, "{}]", text);
}

} // namespace memguard
