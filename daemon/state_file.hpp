// What the daemon did last, kept in its runtime directory for `memguardd status`.
#pragma once

#include "guard.hpp"

#include <cstdint>
#include <string>

namespace memguard {

// $RUNTIME_DIRECTORY (set by systemd's RuntimeDirectory=) or /run/memguardd.
std::string runtime_dir();

class StateFile {
public:
    void record_apply(const Report& report, bool fail_closed);
    void record_repair(const Report& report);

private:
    void write() const;
    std::string last_apply_ = "never";
    std::string last_repair_ = "never";
    std::string last_drift_;
    std::uint64_t repairs_ = 0;
    bool fail_closed_ = false;
};

} // namespace memguard
