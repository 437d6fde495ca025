// What the config readers share: one JSON document read strictly (UTF-8, no NUL, no key given
// twice, a position for every syntax error) and a collector of problems, so one run reports all.
#pragma once

#include "config.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace memguard::config_detail {

using nlohmann::json;

// Collects problems while the fields are read, so one run reports all of them.
class Reader {
public:
    // Problems found from now on are prefixed with `where` ("/etc/memguard.d/10-web.json: ").
    void set_prefix(std::string where) { prefix_ = std::move(where); }
    void problem(const std::string& path, const json& value, const std::string& what) {
        problems_.push_back(prefix_ + path + ": " + value.dump() + " " + what);
    }
    void problem(const std::string& line) { problems_.push_back(prefix_ + line); }
    void problem(const std::string& path, const std::string& what) {
        problems_.push_back(prefix_ + path + ": " + what);
    }
    [[nodiscard]] const std::vector<std::string>& problems() const { return problems_; }

private:
    std::string prefix_;
    std::vector<std::string> problems_;
};

// The text as one JSON object, or ConfigError saying why it is not one; `duplicates` gets the
// keys given twice.
json parse_document(std::string_view text, std::vector<std::string>& duplicates);

// "a, b and c"
std::string joined_names(const std::vector<std::string>& names);

} // namespace memguard::config_detail
