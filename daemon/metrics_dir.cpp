#include "metrics_dir.hpp"

#include "trusted_path.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string_view>
#include <utility>
#include <vector>

namespace memguard {

namespace {

constexpr int dir_flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

std::string where_instead() {
    return ", or use a directory only root can write";
}

// The components of an absolute path, without empty ones and ".".
std::vector<std::string> components(const std::string& dir) {
    std::vector<std::string> parts;
    std::string_view rest(dir);
    while (!rest.empty()) {
        const auto slash = rest.find('/');
        const std::string_view part = rest.substr(0, slash);
        if (!part.empty() && part != ".") {
            parts.emplace_back(part);
        }
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    }
    return parts;
}

FileError refusal(std::string what) {
    return {EPERM, std::move(what), true};
}

// Why `name` in `parent` (path `path`; the last component when `last`) could not be opened as a
// directory of the way to `dir`.
FileError open_failed(int parent, const std::string& name, const std::string& path, bool last,
                      const std::string& dir, uid_t owner) {
    const int error = errno;
    struct stat st {};
    if ((error == ELOOP || error == ENOTDIR) &&
        ::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (auto why = metrics_dir_fault(path, st, last, owner, owner)) {
            return refusal(*why);
        }
    }
    return {error, "cannot open directory " + dir + ": " + std::strerror(error)};
}

} // namespace

std::optional<std::string> metrics_dir_fault(const std::string& dir, const struct stat& st,
                                             bool holds_the_file, uid_t entry_owner, uid_t owner) {
    if (S_ISLNK(st.st_mode)) {
        return dir + " is a symbolic link (the metrics directory is opened without following "
                     "links); name the directory it points to in metrics_file";
    }
    if (!S_ISDIR(st.st_mode)) {
        return dir + " is not a directory";
    }
    // A directory above the file's is judged trusting its own owner too (see the header).
    const uid_t trusted = holds_the_file ? owner : (st.st_uid == 0 ? owner : st.st_uid);
    const DirectoryFault fault = directory_fault(st, holds_the_file, entry_owner, trusted);
    switch (fault) {
    case DirectoryFault::none:
        return std::nullopt;
    case DirectoryFault::foreign_owner:
        return dir + " is " + describe(fault, st) + ", not root; chown root " + dir +
               where_instead();
    case DirectoryFault::writable_by_others:
        break;
    }
    const std::string fix = holds_the_file ? "chmod go-w " + dir : "chmod go-w or +t " + dir;
    return dir + " is " + describe(fault, st) + "; " + fix + where_instead();
}

OpenedDir open_metrics_dir(const std::string& dir, uid_t owner) {
    if (!dir.starts_with('/')) {
        return {Fd(), refusal(dir + " is not an absolute path")};
    }
    OpenedDir opened{Fd(::open("/", dir_flags)), std::nullopt};
    struct stat st {};
    if (!opened.fd || ::fstat(opened.fd.get(), &st) != 0) {
        opened.error = FileError{errno, std::string("cannot open /: ") + std::strerror(errno)};
        return opened;
    }
    std::string path = "/";
    const std::vector<std::string> names = components(dir);
    for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string& name = names[i];
        if (name == "..") {
            opened.error = refusal(dir + " has a .. in it; name the directory plainly");
            return opened;
        }
        std::string child_path = path;
        if (path != "/") {
            child_path += '/';
        }
        child_path += name;
        Fd child(::openat(opened.fd.get(), name.c_str(), dir_flags));
        struct stat child_st {};
        if (!child || ::fstat(child.get(), &child_st) != 0) {
            opened.error =
                open_failed(opened.fd.get(), name, child_path, i + 1 == names.size(), dir, owner);
            return opened;
        }
        if (auto why = metrics_dir_fault(path, st, false, child_st.st_uid, owner)) {
            opened.error = refusal(*why);
            return opened;
        }
        opened.fd = std::move(child);
        st = child_st;
        path = child_path;
    }
    if (auto why = metrics_dir_fault(path, st, true, owner, owner)) {
        opened.error = refusal(*why);
    }
    return opened;
}

} // namespace memguard
