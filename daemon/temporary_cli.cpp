#include "temporary_cli.hpp"

#include "control.hpp"
#include "duration.hpp"
#include "running_config.hpp"
#include "state_store.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace memguard {

namespace {

using nlohmann::json;

json request_of(const Options& o) {
    json r{{"request", o.command == Command::allow ? "allow" : "revoke"},
           {"net", o.target},
           {"guard", o.guard}};
    if (o.length) {
        r["for_s"] = o.length->count();
    }
    if (o.comment) {
        r["comment"] = *o.comment;
    }
    return r;
}

// "10.0.0.7 "vendor" in guard default"
std::string entry_text(const json& e) {
    const json comment = e.value("comment", json());
    return e.value("net", "?") +
           (comment.is_string() ? " \"" + comment.get<std::string>() + "\"" : "") + " in guard " +
           e.value("guard", "?");
}

} // namespace

int ask_temporary(const Options& o) {
    const std::string request = request_of(o).dump();
    // The daemon reads at most 256 bytes of a request: well above any valid one.
    if (request.size() >= 256) {
        std::fprintf(stderr, "memguardd: the address, the guard's name or the comment is too long "
                             "(a comment has at most 100 bytes, a guard's name 20)\n");
        return 1;
    }
    const auto answer = ask_daemon(request);
    if (!answer) {
        std::fprintf(stderr, "memguardd: memguardd is not running; a temporary entry needs the "
                             "daemon (systemctl start memguardd)\n");
        return 1;
    }
    json done;
    try {
        done = json::parse(*answer);
    } catch (const json::exception& e) {
        std::fprintf(stderr, "memguardd: the daemon's answer is not JSON: %s\n", e.what());
        return 1;
    }
    if (done.contains("error")) {
        std::fprintf(stderr, "memguardd: %s\n", done["error"].get<std::string>().c_str());
        return 1;
    }
    if (done.contains("granted")) {
        std::printf("allowed %s for %s, until %s\n", entry_text(done["granted"]).c_str(),
                    format_duration(*o.length).c_str(),
                    done["granted"].value("expires", "?").c_str());
        return 0;
    }
    std::printf("revoked %s; its open connections are cut\n",
                entry_text(done.value("revoked", json::object())).c_str());
    if (const auto note = done.value("note", ""); !note.empty()) {
        std::fprintf(stderr, "memguardd: warning: %s\n", note.c_str());
    }
    return 0;
}

TemporaryList daemon_temporary(const std::string& config_path) {
    const auto answer = ask_daemon("status");
    return answer ? daemon_temporary(config_path, json::parse(*answer, nullptr, false))
                  : TemporaryList{};
}

Policy with_daemon_temporary(const Policy& config, const std::string& config_path,
                             const json& daemon) {
    return daemon_temporary(config_path, daemon)
        .applied_to(config, state_directory() + "/" + std::string(temporary_file_name));
}

Policy with_daemon_temporary(const Policy& config, const std::string& config_path) {
    try {
        return with_daemon_temporary(config, config_path, ask_daemon_status());
    } catch (const std::exception&) {
        return config;
    }
}

TemporaryList daemon_temporary(const std::string& config_path, const json& daemon) {
    if (!daemon.is_object() || daemon.value("config", "") != config_path) {
        return {};
    }
    std::vector<std::string> problems; // the daemon checked them when it granted them
    return TemporaryList::parse(
        json{{"temporary", daemon.value("temporary", json::array())}}.dump(), problems);
}

} // namespace memguard
