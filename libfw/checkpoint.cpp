#include "checkpoint.hpp"

#include <csignal>
#include <cstdlib>
#include <string>

namespace memguard {

#if defined(MEMGUARD_TEST_HOOKS) && MEMGUARD_TEST_HOOKS

namespace {

struct Trap {
    const char* variable;
    int signal;
    std::string at;
    bool fired = false;
};

Trap traps[] = {{"MEMGUARD_TEST_KILL_AT", SIGKILL, {}}, {"MEMGUARD_TEST_STOP_AT", SIGSTOP, {}}};

} // namespace

void checkpoint(std::string_view name) {
    static const bool armed = [] {
        bool any = false;
        for (auto& trap : traps) {
            const char* at = std::getenv(trap.variable);
            trap.at = at != nullptr ? at : "";
            any = any || !trap.at.empty();
        }
        return any;
    }();
    if (!armed) {
        return;
    }
    for (auto& trap : traps) {
        if (!trap.fired && trap.at == name) {
            trap.fired = true;
            std::raise(trap.signal);
        }
    }
}

const char* test_hook(const char* name) {
    return std::getenv(name);
}

#else

void checkpoint(std::string_view /*name*/) {}

const char* test_hook(const char* /*name*/) {
    return nullptr;
}

#endif

} // namespace memguard
