#include "trusted_path.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

namespace memguard {

namespace {

std::string octal_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

bool trusted_owner(uid_t uid, uid_t owner) {
    return uid == 0 || uid == owner;
}

std::string move_it() {
    return "; move it to a directory only root can write, like /etc";
}

// What is wrong with directory `dir`, holding an entry owned by `entry_owner`.
std::optional<std::string> untrusted(const std::string& dir, const struct stat& st,
                                     bool holds_the_file, uid_t entry_owner, uid_t owner) {
    const DirectoryFault fault = directory_fault(st, holds_the_file, entry_owner, owner);
    if (fault == DirectoryFault::none) {
        return std::nullopt;
    }
    const std::string rule = fault == DirectoryFault::foreign_owner
                                 ? " (every directory it is in must be owned by root)"
                                 : "";
    return "is in " + dir + ", which is " + describe(fault, st) + rule + move_it();
}

} // namespace

DirectoryFault directory_fault(const struct stat& dir, bool holds_the_file, uid_t entry_owner,
                               uid_t owner) {
    if (!trusted_owner(dir.st_uid, owner)) {
        return DirectoryFault::foreign_owner;
    }
    if ((dir.st_mode & (S_IWGRP | S_IWOTH)) == 0) {
        return DirectoryFault::none;
    }
    // In a sticky directory only an entry's owner, the directory's and root can rename it.
    const bool sticky_guards_entry =
        (dir.st_mode & S_ISVTX) != 0 && !holds_the_file && trusted_owner(entry_owner, owner);
    return sticky_guards_entry ? DirectoryFault::none : DirectoryFault::writable_by_others;
}

std::string describe(DirectoryFault fault, const struct stat& dir) {
    switch (fault) {
    case DirectoryFault::none:
        break;
    case DirectoryFault::foreign_owner:
        return "owned by uid " + std::to_string(dir.st_uid);
    case DirectoryFault::writable_by_others:
        return "writable by group or others (mode " + octal_mode(dir.st_mode) + ")";
    }
    return "";
}

std::optional<std::string> untrusted_directory(const std::string& path, const struct stat& opened,
                                               uid_t owner) {
    const std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr),
                                                               &std::free);
    struct stat st {};
    if (!resolved || ::stat(resolved.get(), &st) != 0) {
        return std::string("cannot resolve its path: ") + std::strerror(errno);
    }
    if (st.st_dev != opened.st_dev || st.st_ino != opened.st_ino) {
        return std::string("was replaced while it was being read; try again");
    }
    uid_t entry_owner = st.st_uid;
    bool holds_the_file = true;
    for (std::filesystem::path dir = std::filesystem::path(resolved.get()).parent_path();;
         dir = dir.parent_path()) {
        if (::stat(dir.c_str(), &st) != 0) {
            return "cannot stat " + dir.string() + ": " + std::strerror(errno);
        }
        if (auto why = untrusted(dir.string(), st, holds_the_file, entry_owner, owner)) {
            return why;
        }
        if (dir == dir.root_path()) {
            return std::nullopt;
        }
        entry_owner = st.st_uid;
        holds_the_file = false;
    }
}

} // namespace memguard
