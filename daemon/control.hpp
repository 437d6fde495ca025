// The daemon's control channel: an abstract unix socket, "@memguardd/control". Abstract
// names live in the network namespace, so it is both the one-instance-per-namespace lock (a
// second daemon cannot bind it, and learns the first one's pid from SO_PEERCRED) and where
// `memguardd status` asks the running daemon what it knows. It vanishes with the process, so
// nothing outlives a daemon killed with SIGKILL. Only root may ask (SO_PEERCRED).
#pragma once

#include "fd.hpp"

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/types.h>

namespace memguard {

// A daemon already holds the socket in this network namespace.
class AlreadyRunning : public std::runtime_error {
public:
    explicit AlreadyRunning(pid_t pid);
    [[nodiscard]] pid_t pid() const { return pid_; }

private:
    pid_t pid_;
};

class ControlSocket {
public:
    // Binds and listens; throws AlreadyRunning, or std::runtime_error for any other failure.
    static ControlSocket claim();

    [[nodiscard]] int fd() const { return fd_.get(); }
    // Accepts one waiting client, reads its one-line request and writes `answer(request)` back.
    // A client that is not root gets an error line. Never blocks for long: the client has 1 s
    // to send its request.
    void serve_one(const std::function<std::string(const std::string&)>& answer) const;

private:
    explicit ControlSocket(Fd fd) : fd_(std::move(fd)) {}
    Fd fd_;
};

// The pid of the daemon running in this network namespace, if any.
std::optional<pid_t> running_daemon();

// Sends `request` to the running daemon and returns its answer; nullopt when none runs.
// Throws std::runtime_error when one runs but does not answer within 5 s.
std::optional<std::string> ask_daemon(const std::string& request);

} // namespace memguard
