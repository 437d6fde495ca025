#include "control.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>

namespace memguard {

namespace {

constexpr char socket_name[] = "memguardd/control"; // abstract: sun_path starts with '\0'

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::pair<sockaddr_un, socklen_t> address() {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, socket_name, sizeof socket_name - 1);
    return {addr, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + sizeof socket_name)};
}

Fd unix_stream() {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        throw_errno("control socket");
    }
    return fd;
}

// nullopt when nobody listens on the name.
std::optional<Fd> connect_daemon() {
    Fd fd = unix_stream();
    const auto [addr, len] = address();
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        if (errno == ECONNREFUSED || errno == ENOENT) {
            return std::nullopt;
        }
        throw_errno("connect to the running memguardd");
    }
    return fd;
}

ucred peer(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        throw_errno("SO_PEERCRED");
    }
    return cred;
}

void set_timeout(int fd, int option, int ms) {
    const timeval tv{ms / 1000, static_cast<suseconds_t>(ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

std::string read_all(int fd, std::size_t limit, bool line) {
    std::string out;
    char buf[4096];
    while (out.size() < limit) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        out.append(buf, static_cast<std::size_t>(n));
        if (line && out.find('\n') != std::string::npos) {
            return out.substr(0, out.find('\n'));
        }
    }
    return out;
}

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return; // the client went away: nothing to tell it
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

} // namespace

AlreadyRunning::AlreadyRunning(pid_t pid)
    : std::runtime_error("memguardd is already running in this network namespace (pid " +
                         std::to_string(pid) + "); stop it first, or use `memguardd status`"),
      pid_(pid) {}

ControlSocket ControlSocket::claim() {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
        throw_errno("control socket");
    }
    const auto [addr, len] = address();
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        if (errno != EADDRINUSE) {
            throw_errno("bind @" + std::string(socket_name));
        }
        if (const auto pid = running_daemon()) {
            throw AlreadyRunning(*pid);
        }
        throw std::runtime_error("@" + std::string(socket_name) +
                                 " is taken but nobody answers on it");
    }
    if (::listen(fd.get(), 16) != 0) {
        throw_errno("listen on @" + std::string(socket_name));
    }
    return ControlSocket(std::move(fd));
}

void ControlSocket::serve_one(const std::function<std::string(const std::string&)>& answer) const {
    const Fd client(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) {
        return; // gone before we got to it
    }
    set_timeout(client.get(), SO_RCVTIMEO, 1000);
    set_timeout(client.get(), SO_SNDTIMEO, 1000);
    // Before reading anything: a user who is not root must not hold the loop up for a second.
    if (peer(client.get()).uid != 0) {
        write_all(client.get(), "{\"error\": \"only root may ask memguardd\"}\n");
        return;
    }
    write_all(client.get(), answer(read_all(client.get(), 256, true)));
}

std::optional<pid_t> running_daemon() {
    const auto fd = connect_daemon();
    if (!fd) {
        return std::nullopt;
    }
    return peer(fd->get()).pid;
}

std::optional<std::string> ask_daemon(const std::string& request) {
    const auto fd = connect_daemon();
    if (!fd) {
        return std::nullopt;
    }
    set_timeout(fd->get(), SO_RCVTIMEO, 5000);
    set_timeout(fd->get(), SO_SNDTIMEO, 5000);
    write_all(fd->get(), request + "\n");
    std::string answer = read_all(fd->get(), std::size_t{16} << 20, false);
    if (answer.empty()) {
        throw std::runtime_error("memguardd (pid " + std::to_string(peer(fd->get()).pid) +
                                 ") did not answer within 5 s");
    }
    return answer;
}

} // namespace memguard
