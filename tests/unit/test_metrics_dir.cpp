// Where the metrics file may be written (daemon/metrics_dir.cpp): the directory rule, pure, and
// replace_file() refusing a directory that is not root's, one writable by others, and a link on
// the way, leaving nothing there.
#include "metrics_dir.hpp"
#include "metrics_file.hpp"
#include "temp_dir.hpp"

#include "catch.hpp"

#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using memguard::metrics_dir_fault;
using memguard::replace_file;

namespace {

constexpr uid_t root = 0;
constexpr uid_t nobody = 65534;

struct stat dir_stat(uid_t uid, mode_t mode) {
    struct stat st {};
    st.st_uid = uid;
    st.st_mode = S_IFDIR | mode;
    return st;
}

// metrics_dir_fault of `dir` as the file's directory (root's file in it), "" when none.
std::string file_dir_fault(const struct stat& st) {
    return metrics_dir_fault("/srv/m", st, true, root, root).value_or("");
}

// ... as a directory above the file's, holding a root-owned directory.
std::string upper_dir_fault(const struct stat& st, uid_t entry_owner = root) {
    return metrics_dir_fault("/srv", st, false, entry_owner, root).value_or("");
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

bool is_empty(const std::string& dir) {
    return std::filesystem::is_empty(dir);
}

} // namespace

TEST_CASE("metrics dir: the file's directory must be root's and closed to others", "[metrics]") {
    CHECK(file_dir_fault(dir_stat(root, 0755)).empty());
    CHECK(file_dir_fault(dir_stat(root, 0700)).empty());
    const std::string foreign = file_dir_fault(dir_stat(nobody, 0755));
    CHECK(contains(foreign, "/srv/m is owned by uid 65534, not root; chown root /srv/m"));
    for (const mode_t mode : std::initializer_list<mode_t>{0775, 0757, 0777, 01777}) {
        const std::string open = file_dir_fault(dir_stat(root, mode));
        INFO(open);
        CHECK(contains(open, "/srv/m is writable by group or others (mode "));
        CHECK(contains(open, "chmod go-w /srv/m"));
    }
}

TEST_CASE("metrics dir: a directory above may be another user's, not open to all", "[metrics]") {
    // Debian's /var/lib/prometheus is prometheus' 0755; node-exporter below it is root's.
    CHECK(upper_dir_fault(dir_stat(110, 0755)).empty());
    CHECK(upper_dir_fault(dir_stat(root, 0755)).empty());
    CHECK(upper_dir_fault(dir_stat(root, 01777)).empty()); // /tmp: nobody renames root's entry
    CHECK(contains(upper_dir_fault(dir_stat(root, 01777), nobody),
                   "/srv is writable by group or others (mode 1777)"));
    CHECK(contains(upper_dir_fault(dir_stat(root, 0777)),
                   "/srv is writable by group or others (mode 0777)"));
    CHECK(contains(upper_dir_fault(dir_stat(110, 0775)), "writable by group or others"));
}

TEST_CASE("metrics dir: a link or a file on the way is refused", "[metrics]") {
    struct stat link {};
    link.st_mode = S_IFLNK | 0777;
    CHECK(contains(file_dir_fault(link), "/srv/m is a symbolic link"));
    CHECK(contains(upper_dir_fault(link), "/srv is a symbolic link"));
    struct stat file {};
    file.st_mode = S_IFREG | 0644;
    CHECK(contains(file_dir_fault(file), "/srv/m is not a directory"));
}

TEST_CASE("metrics file: a link on the way is refused and nothing is written through it",
          "[metrics]") {
    const unit::TempDir tmp;
    const std::string real = tmp.dir("real", 0755);
    const std::string link = tmp.path() + "/link";
    REQUIRE(::symlink(real.c_str(), link.c_str()) == 0);
    for (const std::string& file : {link + "/memguardd.prom", link + "/./memguardd.prom"}) {
        const auto failed = replace_file(file, "a 1\n", ::geteuid());
        REQUIRE(failed);
        CHECK(failed->refused);
        CHECK(contains(failed->what, link + " is a symbolic link"));
    }
    const std::string below = tmp.dir("real/below", 0755);
    const auto through = replace_file(link + "/below/memguardd.prom", "a 1\n", ::geteuid());
    REQUIRE(through);
    CHECK(contains(through->what, link + " is a symbolic link"));
    CHECK(is_empty(below));
    REQUIRE(::rmdir(below.c_str()) == 0);
    CHECK(is_empty(real));
    // The link's target named itself is fine.
    CHECK_FALSE(replace_file(real + "/memguardd.prom", "a 1\n", ::geteuid()));
}

TEST_CASE("metrics file: a directory writable by others is refused, nothing made in it",
          "[metrics]") {
    const unit::TempDir tmp;
    const std::string open = tmp.dir("open", 0777);
    const auto failed = replace_file(open + "/memguardd.prom", "a 1\n", ::geteuid());
    REQUIRE(failed);
    CHECK(failed->refused);
    CHECK(contains(failed->what, open + " is writable by group or others (mode 0777)"));
    CHECK(is_empty(open));
    const auto removed = memguard::remove_file(open + "/memguardd.prom", ::geteuid());
    REQUIRE(removed);
    CHECK(removed->refused);
}

TEST_CASE("metrics file: a directory owned by another user is refused, one above it may be",
          "[metrics]") {
    if (::geteuid() != 0) {
        WARN("not root: cannot chown a directory to another user; skipping");
        return;
    }
    const unit::TempDir tmp;
    const std::string theirs = tmp.dir("theirs", 0755);
    REQUIRE(::chown(theirs.c_str(), nobody, nobody) == 0);
    const auto failed = replace_file(theirs + "/memguardd.prom", "a 1\n");
    REQUIRE(failed);
    CHECK(failed->refused);
    CHECK(contains(failed->what, theirs + " is owned by uid 65534, not root"));
    CHECK(is_empty(theirs));
    // Debian's layout: prometheus' /var/lib/prometheus, root's node-exporter in it.
    const std::string ours = tmp.dir("theirs/node-exporter", 0755);
    CHECK_FALSE(replace_file(ours + "/memguardd.prom", "a 1\n"));
    CHECK(std::filesystem::exists(ours + "/memguardd.prom"));
}
