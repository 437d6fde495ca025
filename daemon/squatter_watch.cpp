#include "squatter_watch.hpp"

#include "control.hpp"
#include "log.hpp"

namespace memguard {

void check_squatter(DaemonState& state) {
    std::optional<Squatter> squatter;
    try {
        squatter = abstract_name_squatter();
    } catch (const std::exception&) {
        return; // no socket to ask with (EMFILE...): the next pass asks again
    }
    std::string text = squatter ? squatter->describe() : "";
    if (text == state.squatter()) {
        return;
    }
    if (squatter) {
        log_event(spdlog::level::warn,
                  {Event::squatter,
                   std::nullopt,
                   {{"SQUATTER_PID", std::to_string(squatter->pid)},
                    {"SQUATTER_UID", std::to_string(squatter->uid)}}},
                  text);
    } else {
        log_event(spdlog::level::info, {Event::squatter, std::nullopt, {}},
                  "nobody holds @memguardd/control any more");
    }
    state.record_squatter(std::move(text));
}

} // namespace memguard
