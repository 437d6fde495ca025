#include "metrics_file.hpp"

#include "fd.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace memguard {

namespace {

FileError error_now(const std::string& what) {
    const int e = errno;
    return {e, what + ": " + std::strerror(e)};
}

std::optional<FileError> write_all(int fd, std::string_view text, const std::string& name) {
    while (!text.empty()) {
        const ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return error_now("cannot write " + name);
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
    return std::nullopt;
}

} // namespace

std::optional<FileError> replace_file(const std::string& path, std::string_view text) {
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    std::string temp = (slash == std::string::npos ? "" : dir) + "." + base + ".XXXXXX";
    Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
    if (!fd) {
        return error_now("cannot create a temporary file in " + dir);
    }
    std::optional<FileError> failed = write_all(fd.get(), text, temp);
    // mkostemp makes the file 0600; node_exporter runs as another user.
    if (!failed && ::fchmod(fd.get(), 0644) != 0) {
        failed = error_now("cannot make " + temp + " readable");
    }
    if (!failed && ::fsync(fd.get()) != 0) {
        failed = error_now("cannot write " + temp + " to disk");
    }
    if (!failed && ::rename(temp.c_str(), path.c_str()) != 0) {
        failed = error_now("cannot rename " + temp + " to " + path);
    }
    if (failed) {
        ::unlink(temp.c_str());
    }
    return failed;
}

std::optional<FileError> remove_file(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return error_now("cannot remove " + path);
    }
    return std::nullopt;
}

} // namespace memguard
