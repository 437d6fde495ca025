// A private directory under /tmp for tests that read files, removed with everything in it.
#pragma once

#include "catch.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace unit {

class TempDir {
public:
    TempDir() {
        std::string templ = "/tmp/memguard-unit-XXXXXX";
        if (::mkdtemp(templ.data()) == nullptr) {
            FAIL("mkdtemp: " << std::strerror(errno));
        }
        path_ = templ;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] std::string file(std::string_view name, std::string_view content,
                                   mode_t mode) const {
        const std::string p = path_ + "/" + std::string(name);
        {
            std::ofstream out(p, std::ios::binary | std::ios::trunc);
            out << content;
            REQUIRE(out.good());
        }
        REQUIRE(::chmod(p.c_str(), mode) == 0);
        return p;
    }
    // A directory `name` in it with `mode` (chmod, so the umask does not narrow it).
    [[nodiscard]] std::string dir(std::string_view name, mode_t mode) const {
        const std::string p = path_ + "/" + std::string(name);
        REQUIRE(::mkdir(p.c_str(), 0700) == 0);
        REQUIRE(::chmod(p.c_str(), mode) == 0);
        return p;
    }
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

} // namespace unit
