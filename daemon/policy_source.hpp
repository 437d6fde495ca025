// Where the daemon's policy comes from: the config; at a start with a config that does not
// validate, the last good policy (last_good.hpp); with none usable, failing closed to loopback on
// every port the files name. Each step is told to the journal once, here.
#pragma once

#include "config.hpp"
#include "guard.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace memguard {

enum class PolicyOrigin { config, last_good, fail_closed };

std::string_view to_string(PolicyOrigin origin);

// What the daemon enforces and where it came from: for status, the metrics and the journal.
struct RunningConfig {
    PolicyOrigin origin = PolicyOrigin::config;
    std::string hash;        // config_hash of the files the policy was read from; "" failing closed
    std::int64_t loaded = 0; // Unix seconds: when they were read, or saved as the last good
    // The config on disk did not validate when last read: the first problem, and its file.
    bool config_invalid = false;
    std::string invalid_file;
    std::string problem;
};

class PolicySource {
public:
    explicit PolicySource(std::string config_path) : config_path_(std::move(config_path)) {}

    // config → last good → fail closed. Makes `guard` for the policy's backend (failing closed:
    // the backend holding our rules, if any).
    Policy at_start(std::optional<Guard>& guard);
    // The config read again; nullopt when it does not validate (the policy in force stays).
    std::optional<Policy> at_reload();
    // After an apply pass that did not fail: a policy read from the config becomes the last
    // good one (the state file is written only when its files changed).
    void applied();

    [[nodiscard]] const RunningConfig& running() const { return running_; }
    [[nodiscard]] bool failing_closed() const {
        return running_.origin == PolicyOrigin::fail_closed;
    }

private:
    std::optional<Policy> from_config();
    std::optional<Policy> from_last_good();

    std::string config_path_;
    RunningConfig running_;
    std::optional<ConfigSource> source_; // the files of a policy from the config, not yet kept
    std::string kept_hash_;              // the hash of the last good policy in the state file
    std::string save_problem_;           // the last failure to keep it, as logged
};

} // namespace memguard
