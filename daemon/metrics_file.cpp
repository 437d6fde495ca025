#include "metrics_file.hpp"

#include "fd.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/random.h>
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

struct Place {
    std::string dir;  // "/var/lib/prometheus/node-exporter"
    std::string name; // "memguardd.prom"
    [[nodiscard]] std::string path_of(const std::string& entry) const {
        return (dir == "/" ? dir : dir + "/") + entry;
    }
};

Place place_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) {
        return {".", path};
    }
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// ".memguardd.prom.XXXXXX" with six random letters or digits.
std::string temporary_name(const std::string& name) {
    static constexpr std::string_view letters =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char random[6] = {};
    if (::getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) {
        return "";
    }
    std::string temp = "." + name + ".";
    for (const unsigned char r : random) {
        temp += letters[r % letters.size()];
    }
    return temp;
}

// A new temporary file in `dir`, never through a link; its name in `temp`.
Fd create_temporary(int dir, const std::string& name, std::string& temp) {
    for (int attempt = 0; attempt < 100; ++attempt) {
        temp = temporary_name(name);
        if (temp.empty()) {
            return Fd();
        }
        Fd fd(::openat(dir, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0600));
        if (fd || errno != EEXIST) {
            return fd;
        }
    }
    return Fd();
}

} // namespace

std::optional<FileError> replace_file(const std::string& path, std::string_view text, uid_t owner,
                                      mode_t mode, bool durable) {
    const Place place = place_of(path);
    OpenedDir opened = open_metrics_dir(place.dir, owner);
    if (opened.error) {
        return opened.error;
    }
    const int dir = opened.fd.get();
    std::string temp;
    const Fd fd = create_temporary(dir, place.name, temp);
    if (!fd) {
        return error_now("cannot create a temporary file in " + place.dir);
    }
    const std::string temp_path = place.path_of(temp);
    std::optional<FileError> failed = write_all(fd.get(), text, temp_path);
    // The file is made 0600; node_exporter runs as another user.
    if (!failed && ::fchmod(fd.get(), mode) != 0) {
        failed = error_now("cannot make " + temp_path + " readable");
    }
    if (!failed && durable && ::fsync(fd.get()) != 0) {
        failed = error_now("cannot write " + temp_path + " to disk");
    }
    if (!failed && ::renameat(dir, temp.c_str(), dir, place.name.c_str()) != 0) {
        failed = error_now("cannot rename " + temp_path + " to " + path);
    }
    if (failed) {
        ::unlinkat(dir, temp.c_str(), 0);
    }
    return failed;
}

std::optional<FileError> remove_file(const std::string& path, uid_t owner) {
    const Place place = place_of(path);
    OpenedDir opened = open_metrics_dir(place.dir, owner);
    if (opened.error) {
        return opened.error->error == ENOENT ? std::nullopt : opened.error;
    }
    if (::unlinkat(opened.fd.get(), place.name.c_str(), 0) != 0 && errno != ENOENT) {
        return error_now("cannot remove " + path);
    }
    return std::nullopt;
}

} // namespace memguard
