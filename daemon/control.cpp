#include "control.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

namespace memguard {

namespace {

constexpr char abstract_name[] = "memguardd/control"; // sun_path starts with '\0'

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::pair<sockaddr_un, socklen_t> path_address(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        throw std::runtime_error("control socket path too long (" + std::to_string(path.size()) +
                                 " bytes, at most " + std::to_string(sizeof addr.sun_path - 1) +
                                 "): " + path);
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return {addr, static_cast<socklen_t>(sizeof addr)};
}

std::pair<sockaddr_un, socklen_t> abstract_address() {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, abstract_name, sizeof abstract_name - 1);
    return {addr, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + sizeof abstract_name)};
}

Fd unix_stream(int flags = 0) {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0));
    if (!fd) {
        throw_errno("control socket");
    }
    return fd;
}

std::optional<ucred> peer(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        return std::nullopt;
    }
    return cred;
}

// The running daemon, connected; nullopt when nobody listens, or when the listener is not root
// (it cannot be memguardd).
std::optional<std::pair<Fd, ucred>> connect_daemon() {
    const std::string path = instance_paths().socket;
    Fd fd = unix_stream();
    const auto [addr, len] = path_address(path);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        if (errno == ECONNREFUSED || errno == ENOENT) {
            return std::nullopt;
        }
        if (errno == EACCES) {
            throw std::runtime_error("only root may ask memguardd (" + path + ": " +
                                     std::strerror(errno) + ")");
        }
        throw_errno("connect to the running memguardd at " + path);
    }
    const auto cred = peer(fd.get());
    if (!cred || cred->uid != 0) {
        return std::nullopt;
    }
    return std::pair{std::move(fd), *cred};
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

ControlSocket ControlSocket::open(const InstancePaths& paths) {
    if (::unlink(paths.socket.c_str()) != 0 && errno != ENOENT) {
        throw_errno("cannot remove the stale " + paths.socket);
    }
    Fd fd = unix_stream(SOCK_NONBLOCK);
    const auto [addr, len] = path_address(paths.socket);
    // Made 0600 through the umask: connect needs write permission on the socket.
    const mode_t old_umask = ::umask(0177);
    const int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len);
    ::umask(old_umask);
    if (bound != 0) {
        throw_errno("bind " + paths.socket);
    }
    if (::listen(fd.get(), 16) != 0) {
        const int error = errno;
        ::unlink(paths.socket.c_str());
        errno = error;
        throw_errno("listen on " + paths.socket);
    }
    return {std::move(fd), paths.socket};
}

ControlSocket::~ControlSocket() {
    if (fd_) {
        ::unlink(path_.c_str());
    }
}

void ControlSocket::serve_one(const std::function<std::string(const std::string&)>& answer) const {
    const Fd client(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) {
        return; // gone before we got to it
    }
    // The socket's mode keeps others out; should one get in anyway, it gets nothing but this.
    if (const auto cred = peer(client.get()); !cred || cred->uid != 0) {
        write_all(client.get(), "{\"error\": \"only root may ask memguardd\"}\n");
        return;
    }
    set_timeout(client.get(), SO_RCVTIMEO, 1000);
    set_timeout(client.get(), SO_SNDTIMEO, 1000);
    write_all(client.get(), answer(read_all(client.get(), 256, true)));
}

std::optional<pid_t> running_daemon() {
    const auto daemon = connect_daemon();
    if (!daemon) {
        return std::nullopt;
    }
    return daemon->second.pid;
}

std::optional<std::string> ask_daemon(const std::string& request) {
    const auto daemon = connect_daemon();
    if (!daemon) {
        return std::nullopt;
    }
    const int fd = daemon->first.get();
    set_timeout(fd, SO_RCVTIMEO, 5000);
    set_timeout(fd, SO_SNDTIMEO, 5000);
    write_all(fd, request + "\n");
    std::string answer = read_all(fd, std::size_t{16} << 20, false);
    if (answer.empty()) {
        throw std::runtime_error("memguardd (pid " + std::to_string(daemon->second.pid) +
                                 ") did not answer within 5 s");
    }
    return answer;
}

std::string Squatter::describe() const {
    const std::string who = pid != 0 ? "pid " + std::to_string(pid) + ", uid " + std::to_string(uid)
                                     : "who could not be asked: its queue is full";
    return "a process that is not memguardd (" + who + ") holds the abstract unix socket @" +
           std::string(abstract_name) +
           ", where earlier memguardd versions listened; memguardd ignores it, but an earlier "
           "memguardd CLI would believe what it answers";
}

std::optional<Squatter> abstract_name_squatter() {
    // Non-blocking: a squatter that never accepts must not hold us up.
    Fd fd = unix_stream(SOCK_NONBLOCK);
    const auto [addr, len] = abstract_address();
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        if (errno == EAGAIN) {
            return Squatter{};
        }
        return std::nullopt; // ECONNREFUSED: nobody holds the name
    }
    const auto cred = peer(fd.get());
    return Squatter{cred ? cred->pid : 0, cred ? cred->uid : 0};
}

} // namespace memguard
