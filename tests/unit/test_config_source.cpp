// The config's files read into memory (read_config_source), validated from there
// (parse_config_source) exactly as load_config validates the files, and their hash; and the
// daemon's last good policy (daemon/last_good.cpp), kept as those texts.
#include "config.hpp"
#include "last_good.hpp"
#include "temp_dir.hpp"

#include "catch.hpp"

#include <stdexcept>
#include <string>
#include <unistd.h>

using memguard::ConfigError;
using memguard::ConfigSource;
using memguard::ConfigText;
using memguard::FileRules;
using memguard::Policy;

namespace {

constexpr std::string_view main_text = R"({"guards": [{"name": "cache", "ports": [11211],
    "allow": [{"net": "10.0.0.0/8", "comment": "app tier"}]}]})";
constexpr std::string_view fragment_text =
    R"({"guards": [{"name": "cache", "allow": ["192.168.1.0/24"]}]})";

// The files' owner, as load_config is told to trust them.
FileRules mine() {
    return {::geteuid()};
}

struct Files {
    unit::TempDir dir;
    std::string main = dir.file("memguard.json", main_text, 0600);
    std::string fragments = dir.dir("memguard.d", 0755);
    std::string fragment = dir.file("memguard.d/10-web.json", fragment_text, 0644);
    std::string ignored = dir.file("memguard.d/README", "", 0644);
};

std::string problems(const ConfigSource& source) {
    try {
        (void)memguard::parse_config_source(source);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("config source: the texts validate to the very policy load_config makes") {
    const Files f;
    const ConfigSource source = memguard::read_config_source(f.main, mine());
    CHECK(source.main == ConfigText{f.main, std::string(main_text), {}});
    REQUIRE(source.fragments.size() == 1);
    CHECK(source.fragments[0].path == f.fragment);
    CHECK(source.ignored == std::vector<std::string>{f.ignored});
    const Policy from_texts = memguard::parse_config_source(source);
    const Policy from_files = memguard::load_config(f.main, mine());
    CHECK(from_texts == from_files);
    // What == leaves out: where each entry was written, and the files not read.
    CHECK(from_texts.guards[0].listed_at.by_network == from_files.guards[0].listed_at.by_network);
    CHECK(from_texts.guards[0].labels == from_files.guards[0].labels);
    CHECK(from_texts.ignored_files == from_files.ignored_files);
}

TEST_CASE("config source: a file that cannot be read is a problem of its own among the others") {
    const Files f;
    ConfigSource source = memguard::read_config_source(f.main, {::geteuid() + 1});
    REQUIRE(source.main.unreadable.size() == 1);
    const std::string owner = "is owned by uid " + std::to_string(::geteuid()) +
                              ", must be owned by uid " + std::to_string(::geteuid() + 1);
    CHECK(source.main.unreadable[0] == f.main + ": " + owner + " (root)");
    std::string from_files;
    try {
        (void)memguard::load_config(f.main, {::geteuid() + 1});
    } catch (const ConfigError& e) {
        from_files = e.what();
    }
    CHECK_FALSE(from_files.empty());
    CHECK(problems(source) == from_files);
}

TEST_CASE("config source: the hash follows every path and text, and nothing else") {
    const Files f;
    const ConfigSource source = memguard::read_config_source(f.main, mine());
    const std::string hash = memguard::config_hash(source);
    CHECK(hash.size() == 16);
    CHECK(memguard::config_hash(memguard::read_config_source(f.main, mine())) == hash);
    ConfigSource changed = source;
    changed.fragments[0].text += " ";
    CHECK(memguard::config_hash(changed) != hash);
    changed = source;
    changed.fragments[0].path += "x";
    CHECK(memguard::config_hash(changed) != hash);
    changed = source;
    changed.fragments.clear();
    CHECK(memguard::config_hash(changed) != hash);
    changed = source;
    changed.ignored.clear();
    CHECK(memguard::config_hash(changed) == hash);
}

TEST_CASE("last good: kept as texts and read back whole, but not when they do not match the hash") {
    const Files f;
    memguard::LastGood kept;
    kept.source = memguard::read_config_source(f.main, mine());
    kept.hash = memguard::config_hash(kept.source);
    kept.saved = 1700000000;
    const std::string text = memguard::last_good_text(kept);
    const memguard::LastGood back = memguard::parse_last_good(text);
    CHECK(back.source == kept.source);
    CHECK(back.hash == kept.hash);
    CHECK(back.saved == kept.saved);
    CHECK(memguard::utc_text(back.saved) == "2023-11-14T22:13:20Z");

    std::string tampered = text;
    tampered.replace(tampered.find("10.0.0.0/8"), 10, "10.0.0.0/9");
    try {
        (void)memguard::parse_last_good(tampered);
        FAIL("a tampered last good policy was read");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("do not match its hash") != std::string::npos);
    }
    CHECK_THROWS_AS(memguard::parse_last_good("{\"format\": 1}"), std::runtime_error);
    CHECK_THROWS_AS(memguard::parse_last_good("not json"), std::runtime_error);
}
