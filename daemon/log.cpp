#include "log.hpp"

#include "journal_sink.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iterator>

namespace memguard {

namespace {

struct EventName {
    std::string_view name;
    std::string_view message_id; // `journalctl MESSAGE_ID=...` finds every event of the kind
};

// In Event's order.
constexpr EventName event_names[] = {
    {"start", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a01"},
    {"apply", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a02"},
    {"drift", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a03"},
    {"repair", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a04"},
    {"conflict", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a05"},
    {"reload", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a06"},
    {"config", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a07"},
    {"error", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a08"},
    {"stop", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a09"},
    {"revoke", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a0a"},
    {"blocked", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a0b"},
    {"backend", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a0c"},
    {"squatter", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a0d"},
    {"temporary", "5b0e7e8f1c2a4a51b1f3a9d2c6e40a0e"},
};
static_assert(std::size(event_names) == static_cast<std::size_t>(Event::temporary) + 1);

} // namespace

std::string_view to_string(Event e) {
    return event_names[static_cast<std::size_t>(e)].name;
}

std::string_view message_id(Event e) {
    return event_names[static_cast<std::size_t>(e)].message_id;
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
