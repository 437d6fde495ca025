#include "state_file.hpp"

#include "log.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sys/stat.h>

namespace memguard {

namespace {

std::string now_iso8601() {
    const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

} // namespace

std::string runtime_dir() {
    const char* dir = std::getenv("RUNTIME_DIRECTORY");
    return dir != nullptr && *dir != '\0' ? dir : "/run/memguardd";
}

void StateFile::record_apply(const Report& report, bool fail_closed) {
    last_apply_ = now_iso8601();
    fail_closed_ = fail_closed;
    if (report.changed()) {
        last_drift_.clear();
    }
    write();
}

void StateFile::record_repair(const Report& report) {
    last_repair_ = now_iso8601();
    ++repairs_;
    for (const auto& f : report.families) {
        if (!f.drift.empty()) {
            last_drift_ = f.drift.front().describe();
        }
    }
    write();
}

// Written to a temporary name and renamed, so a reader never sees half a file.
void StateFile::write() const {
    const std::string dir = runtime_dir();
    ::mkdir(dir.c_str(), 0755);
    const std::string path = dir + "/state.json";
    const std::string tmp = path + ".tmp";
    const nlohmann::json state{{"last_apply", last_apply_},   {"last_repair", last_repair_},
                               {"last_drift", last_drift_},   {"repairs", repairs_},
                               {"fail_closed", fail_closed_}, {"pid", ::getpid()}};
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << state.dump(2) << '\n';
        if (!out) {
            log_event(spdlog::level::debug, {Event::error, std::nullopt, {}},
                      "cannot write " + tmp + ", ignoring");
            return;
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        log_event(spdlog::level::debug, {Event::error, std::nullopt, {}},
                  "cannot rename " + tmp + ", ignoring");
    }
}

} // namespace memguard
