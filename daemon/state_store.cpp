#include "state_store.hpp"

#include "fd.hpp"
#include "metrics_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace memguard {

namespace {

// Far above any allowlist (a million networks with labels is ~60 MiB): what is larger is not ours.
constexpr off_t max_state_size = off_t{256} << 20;

FileError error_now(const std::string& what) {
    const int e = errno;
    return {e, what + ": " + std::strerror(e)};
}

FileError refused(const std::string& what) {
    return {EPERM, what, true};
}

std::string path_of(const std::string& name) {
    return state_directory() + "/" + name;
}

std::optional<FileError> check_file(const struct stat& st, const std::string& path, uid_t owner) {
    if (!S_ISREG(st.st_mode)) {
        return refused(path + " is not a regular file");
    }
    if (st.st_uid != owner) {
        return refused(path + " is owned by uid " + std::to_string(st.st_uid) + ", not " +
                       std::to_string(owner));
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return refused(path + " is writable by group or others (mode " + mode + ")");
    }
    if (st.st_size > max_state_size) {
        return refused(path + " is larger than 256 MiB");
    }
    return std::nullopt;
}

std::optional<FileError> read_all(int fd, std::string& text, const std::string& path) {
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return error_now("cannot read " + path);
        }
        if (n == 0) {
            return std::nullopt;
        }
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > static_cast<std::size_t>(max_state_size)) {
            return refused(path + " is larger than 256 MiB");
        }
    }
}

} // namespace

std::string state_directory() {
    const char* listed = std::getenv("STATE_DIRECTORY");
    if (listed == nullptr || *listed != '/') {
        return "/var/lib/memguardd";
    }
    const std::string dirs(listed);
    return dirs.substr(0, dirs.find(':'));
}

std::optional<FileError> write_state(const std::string& name, std::string_view text, uid_t owner) {
    const std::string dir = state_directory();
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return error_now("cannot make the state directory " + dir);
    }
    return replace_file(path_of(name), text, owner, 0600);
}

StateText read_state(const std::string& name, uid_t owner) {
    const std::string path = path_of(name);
    OpenedDir dir = open_metrics_dir(state_directory(), owner);
    if (dir.error) {
        return {std::nullopt,
                dir.error->error == ENOENT ? std::nullopt : std::optional(*dir.error)};
    }
    const Fd fd(::openat(dir.fd.get(), name.c_str(),
                         O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) {
            return {};
        }
        return {std::nullopt, errno == ELOOP ? refused(path + " is a symbolic link")
                                             : error_now("cannot open " + path)};
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return {std::nullopt, error_now("cannot stat " + path)};
    }
    if (auto fault = check_file(st, path, owner)) {
        return {std::nullopt, std::move(fault)};
    }
    std::string text;
    if (auto failed = read_all(fd.get(), text, path)) {
        return {std::nullopt, std::move(failed)};
    }
    return {std::move(text), std::nullopt};
}

std::optional<FileError> remove_state(const std::string& name, uid_t owner) {
    return remove_file(path_of(name), owner);
}

} // namespace memguard
