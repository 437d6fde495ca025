// The daemon's state files (daemon/state_store.cpp): written whole with mode 0600, read back;
// a link, a file others may write or own, and a directory others may change are refused.
#include "state_store.hpp"
#include "temp_dir.hpp"

#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using memguard::read_state;
using memguard::write_state;

namespace {

// STATE_DIRECTORY set to `dir` for the test's life.
class StateDirectory {
public:
    explicit StateDirectory(const std::string& dir) { ::setenv("STATE_DIRECTORY", dir.c_str(), 1); }
    ~StateDirectory() { ::unsetenv("STATE_DIRECTORY"); }
    StateDirectory(const StateDirectory&) = delete;
    StateDirectory& operator=(const StateDirectory&) = delete;
};

} // namespace

TEST_CASE("state files are written 0600 in a directory made 0700, and read back", "[state]") {
    const unit::TempDir tmp;
    const std::string dir = tmp.path() + "/state";
    const StateDirectory env(dir + ":/elsewhere");
    CHECK(memguard::state_directory() == dir);
    CHECK_FALSE(read_state("policy.json", ::geteuid()).text); // nothing yet, and no error
    CHECK_FALSE(read_state("policy.json", ::geteuid()).error);
    REQUIRE_FALSE(write_state("policy.json", "{\"a\": 1}", ::geteuid()));
    struct stat st {};
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
    REQUIRE(::stat((dir + "/policy.json").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    const auto read = read_state("policy.json", ::geteuid());
    REQUIRE(read.text);
    CHECK(*read.text == "{\"a\": 1}");
    REQUIRE_FALSE(write_state("policy.json", "{}", ::geteuid()));
    CHECK(read_state("policy.json", ::geteuid()).text == "{}");
    REQUIRE_FALSE(memguard::remove_state("policy.json", ::geteuid()));
    CHECK_FALSE(read_state("policy.json", ::geteuid()).text);
}

TEST_CASE("a state file that is a link or that others may write is refused", "[state]") {
    const unit::TempDir tmp;
    const std::string dir = tmp.dir("state", 0700);
    const StateDirectory env(dir);
    const std::string elsewhere = tmp.file("elsewhere.json", "{}", 0600);
    REQUIRE(::symlink(elsewhere.c_str(), (dir + "/linked.json").c_str()) == 0);
    const auto linked = read_state("linked.json", ::geteuid());
    CHECK_FALSE(linked.text);
    REQUIRE(linked.error);
    CHECK(linked.error->refused);
    CHECK(linked.error->what.find("symbolic link") != std::string::npos);

    const std::string open = tmp.file("state/open.json", "{}", 0666);
    const auto writable = read_state("open.json", ::geteuid());
    CHECK_FALSE(writable.text);
    REQUIRE(writable.error);
    CHECK(writable.error->what.find("writable by group or others (mode 0666)") !=
          std::string::npos);
    if (::geteuid() == 0) {
        REQUIRE(::chmod(open.c_str(), 0600) == 0);
        REQUIRE(::chown(open.c_str(), 65534, 65534) == 0);
        const auto theirs = read_state("open.json", 0);
        REQUIRE(theirs.error);
        CHECK(theirs.error->what.find("owned by uid 65534") != std::string::npos);
    }
}

TEST_CASE("a state directory others may change is refused, for reading and writing", "[state]") {
    const unit::TempDir tmp;
    const std::string dir = tmp.dir("state", 0777);
    const StateDirectory env(dir);
    const auto written = write_state("policy.json", "{}", ::geteuid());
    REQUIRE(written);
    CHECK(written->refused);
    const auto read = read_state("policy.json", ::geteuid());
    REQUIRE(read.error);
    CHECK(read.error->refused);
}
