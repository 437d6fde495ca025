// What the running daemon knows about itself, answered over the control socket for
// `memguardd status`. Kept in memory only: it dies with the daemon.
#pragma once

#include "guard.hpp"
#include "policy_source.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace memguard {

// What one verify pass found and did, for `memguardd verify`: {"drift": [...], "repaired",
// "errors": [...]}.
nlohmann::json pass_json(const Report& report);

class DaemonState {
public:
    explicit DaemonState(std::string config_path);

    // Each family's outcome of the latest pass (errors, failing closed, refusals), when it ran
    // and whether it left the kernel as the policy asks: every pass.
    void record_pass(const Report& report);
    // The guards of the policy in force, counted (status_text.hpp): after every apply pass, so
    // that `memguardd status` need not load a config the daemon loaded already.
    void record_guards(const Policy& policy);
    // After an apply pass: when, and where its policy came from (`running`).
    void record_apply(const RunningConfig& running);
    // Where the policy in force came from, and whether the config on disk validated when last
    // read (a rejected reload).
    void record_config(const RunningConfig& running) { running_ = running; }
    [[nodiscard]] const RunningConfig& running() const { return running_; }
    // Which backend programs the rules, and why that one.
    void record_backend(std::string_view name, std::string_view why);
    // Who holds the abstract name memguardd used to listen on ("" when nobody does).
    void record_squatter(std::string text) { squatter_ = std::move(text); }
    [[nodiscard]] const std::string& squatter() const { return squatter_; }
    // When, how many, and the first drift of a pass that repaired something.
    void record_repair(const Report& report);
    [[nodiscard]] const std::string& backend() const { return backend_; }
    [[nodiscard]] bool fail_closed() const;
    // Every family is guarded as asked or failing closed: no port is open to everybody.
    [[nodiscard]] bool all_closed() const;
    // Why the last pass failed, for the first family it failed for ("" when it did not).
    [[nodiscard]] std::string first_error() const;

    [[nodiscard]] nlohmann::json to_json() const;

private:
    [[nodiscard]] nlohmann::json config_json() const;

    std::string config_path_;
    std::string started_;
    std::string last_apply_ = "never";
    std::string last_repair_ = "never";
    std::string last_drift_;
    std::string last_pass_;
    bool in_sync_ = false;
    nlohmann::json guards_ = nlohmann::json::array();
    std::string backend_;
    std::string backend_why_;
    std::string squatter_;
    std::uint64_t repairs_ = 0;
    RunningConfig running_;
    nlohmann::json families_ = nlohmann::json::array();
};

} // namespace memguard
