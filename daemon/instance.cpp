#include "instance.hpp"

#include "trusted_path.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

namespace memguard {

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

// Not systemd's $RUNTIME_DIRECTORY: every process a unit with RuntimeDirectory= starts inherits
// it, and a `memguardd remove` run from such a unit would look for the daemon in that unit's
// directory, find none and act. The unit's RuntimeDirectory=memguardd is this default.
std::string runtime_directory() {
    if (const char* dir = std::getenv("MEMGUARD_RUNTIME_DIRECTORY");
        dir != nullptr && *dir != '\0') {
        return dir;
    }
    return "/run/memguardd";
}

// The pid the holder wrote into the lock file (0 when it has not yet: "pid 0" then means
// "unknown", the moment between its lock and its write).
pid_t holder_pid(int fd) {
    char text[16]{};
    const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
    return n > 0 ? static_cast<pid_t>(std::strtol(text, nullptr, 10)) : 0;
}

void refuse(const std::string& path, const std::string& why) {
    throw std::runtime_error(path + " " + why +
                             "; it decides which memguardd runs in this network namespace, so "
                             "only root may be able to change it");
}

} // namespace

InstancePaths instance_paths() {
    struct stat ns {};
    if (::stat("/proc/self/ns/net", &ns) != 0) {
        throw_errno("cannot name this network namespace (stat /proc/self/ns/net)");
    }
    const std::string dir = runtime_directory();
    const std::string base = dir + "/net-" + std::to_string(ns.st_ino);
    return {dir, base + ".lock", base + ".sock"};
}

AlreadyRunning::AlreadyRunning(pid_t pid)
    : std::runtime_error("memguardd is already running in this network namespace (pid " +
                         (pid != 0 ? std::to_string(pid) : std::string("unknown")) +
                         "); stop it first, or use `memguardd status`"),
      pid_(pid) {}

InstanceLock InstanceLock::take(const InstancePaths& paths) {
    if (::mkdir(paths.directory.c_str(), 0700) != 0 && errno != EEXIST) {
        throw_errno("cannot make " + paths.directory);
    }
    Fd fd(::open(paths.lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) {
        throw_errno("cannot open " + paths.lock);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw_errno("fstat " + paths.lock);
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        refuse(paths.lock, "is not a root-owned regular file only root can write");
    }
    if (const auto why = untrusted_directory(paths.lock, st, 0)) {
        refuse(paths.lock, *why);
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            throw AlreadyRunning(holder_pid(fd.get()));
        }
        throw_errno("flock " + paths.lock);
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) != 0 ||
        ::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        throw_errno("write the pid into " + paths.lock);
    }
    return InstanceLock(std::move(fd));
}

} // namespace memguard
