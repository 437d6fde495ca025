// The daemon's control channel: a unix socket beside the instance lock (instance.hpp), in a
// directory only root can write, mode 0600, so only root can connect and nobody else can bind
// it. `memguardd status`, `verify` ... ask the running daemon there, and believe an answer only
// from a root peer (SO_PEERCRED). The abstract name older versions listened on,
// @memguardd/control, is never trusted: whoever holds it is reported as a squatter.
#pragma once

#include "fd.hpp"
#include "instance.hpp"

#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>

namespace memguard {

class ControlSocket {
public:
    // Binds and listens at `paths.socket`; only its holder of the instance lock may call it (a
    // socket file left there is a killed daemon's, and goes). Throws std::runtime_error.
    static ControlSocket open(const InstancePaths& paths);
    ControlSocket(const ControlSocket&) = delete;
    ControlSocket& operator=(const ControlSocket&) = delete;
    ControlSocket(ControlSocket&&) = default;
    ControlSocket& operator=(ControlSocket&&) = delete;
    // Takes the socket's name away (its owner still holds the lock).
    ~ControlSocket();

    [[nodiscard]] int fd() const { return fd_.get(); }
    // Accepts one waiting client, reads its one-line request and writes `answer(request)` back.
    // A peer that is not root (the socket's mode keeps it out) gets one error line and nothing
    // else. Never blocks for long: the client has 1 s to send its request.
    void serve_one(const std::function<std::string(const std::string&)>& answer) const;

private:
    ControlSocket(Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
    Fd fd_;
    std::string path_;
};

// The pid of the daemon running in this network namespace, if any.
std::optional<pid_t> running_daemon();

// Sends `request` to the running daemon and returns its answer; nullopt when none runs.
// Throws std::runtime_error when one runs but does not answer within 5 s.
std::optional<std::string> ask_daemon(const std::string& request);

// A process holding @memguardd/control, the abstract name any local user can bind, where
// memguardd listened before: an older CLI would believe whatever it answers.
struct Squatter {
    pid_t pid = 0; // 0: it holds the name but its queue is full, so it cannot be asked who it is
    uid_t uid = 0;
    [[nodiscard]] std::string describe() const;
};
std::optional<Squatter> abstract_name_squatter();

} // namespace memguard
