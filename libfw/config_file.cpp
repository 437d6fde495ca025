#include "config_file.hpp"

#include "fd.hpp"
#include "trusted_path.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace memguard {

std::string read_config_file(const std::string& path, FileRules rules) {
    auto fail = [&](const std::string& what) { return ConfigError({path + ": " + what}); };
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) {
        throw fail(std::string("cannot open: ") + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw fail(std::string("cannot stat: ") + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        throw fail(S_ISDIR(st.st_mode) ? "is a directory, not a file" : "is not a regular file");
    }
    if (st.st_uid != rules.owner) {
        throw fail("is owned by uid " + std::to_string(st.st_uid) + ", must be owned by uid " +
                   std::to_string(rules.owner) + " (root)");
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw fail(std::string("is writable by group or others (mode ") + mode +
                   "); run chmod go-w " + path);
    }
    if (const auto why = untrusted_directory(path, st, rules.owner)) {
        throw fail(*why);
    }
    if (static_cast<std::size_t>(st.st_size) > max_config_bytes) {
        throw fail("is larger than 64 MiB; that is not an allowlist");
    }
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < text.size()) {
        const auto n = ::read(fd.get(), text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw fail(std::string("cannot read: ") + std::strerror(errno));
        }
        if (n == 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    text.resize(got);
    return text;
}

} // namespace memguard
