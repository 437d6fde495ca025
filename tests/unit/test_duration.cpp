// Lengths of time as systemd spells them (libfw/duration.cpp), for memguardd allow --for.
#include "duration.hpp"

#include "catch.hpp"

#include <string>

using memguard::DurationError;
using memguard::format_duration;
using memguard::parse_duration;
using std::chrono::seconds;

namespace {

std::string refusal(const std::string& text) {
    try {
        parse_duration(text);
    } catch (const DurationError& e) {
        return e.what();
    }
    return "accepted";
}

} // namespace

TEST_CASE("duration: systemd's spellings, alone and combined", "[duration]") {
    CHECK(parse_duration("90s") == seconds(90));
    CHECK(parse_duration("90") == seconds(90)); // a bare number is seconds
    CHECK(parse_duration("15min") == seconds(900));
    CHECK(parse_duration("15m") == seconds(900));
    CHECK(parse_duration("2h") == seconds(7200));
    CHECK(parse_duration("2hours") == seconds(7200));
    CHECK(parse_duration("1d") == seconds(86400));
    CHECK(parse_duration("1w") == seconds(7 * 86400));
    CHECK(parse_duration("1M") == seconds(2629800));
    CHECK(parse_duration("1y") == seconds(31557600));
    CHECK(parse_duration("1h 30min") == seconds(5400));
    CHECK(parse_duration("1h30min") == seconds(5400));
    CHECK(parse_duration(" 1 h  30 min ") == seconds(5400));
    CHECK(parse_duration("1.5h") == seconds(5400));
}

TEST_CASE("duration: bad spellings say what was wrong", "[duration]") {
    CHECK(refusal("5x") == "\"5x\": unknown unit \"x\" after \"5\" (use s, min, h, d, w, M or y, "
                           "or their long names: 15min, 2h, 1d)");
    CHECK(refusal("500ms") == "\"500ms\": \"ms\" is below one second; a temporary entry lasts "
                              "any length from one second up");
    CHECK(refusal("10us").find("\"us\" is below one second") != std::string::npos);
    CHECK(refusal("0s") == "\"0s\" is shorter than one second; a temporary entry lasts any "
                           "length from one second up");
    CHECK(refusal("0.5s").find("shorter than one second") != std::string::npos);
    CHECK(refusal("1.5s") == "\"1.5s\" is not a whole number of seconds");
    CHECK(refusal("") == "no length of time given (e.g. 90s, 15min, 2h, 1d, 1h 30min)");
    CHECK(refusal("  ") == "no length of time given (e.g. 90s, 15min, 2h, 1d, 1h 30min)");
    CHECK(refusal("h") == "\"h\": \"h\" does not start with a number");
    CHECK(refusal("-5s") == "\"-5s\": \"-5s\" does not start with a number");
    CHECK(refusal("2h x") == "\"2h x\": \"x\" does not start with a number");
    CHECK(refusal("367d").find("is longer than 366d") != std::string::npos);
    CHECK(refusal("99999999999999999999y").find("is longer than") != std::string::npos);
    CHECK(parse_duration("366d") == memguard::max_duration);
}

TEST_CASE("duration: printed with the largest units first", "[duration]") {
    CHECK(format_duration(seconds(0)) == "0s");
    CHECK(format_duration(seconds(4)) == "4s");
    CHECK(format_duration(seconds(5400)) == "1h 30min");
    CHECK(format_duration(seconds(90061)) == "1d 1h 1min 1s");
    CHECK(parse_duration(format_duration(seconds(90061))) == seconds(90061));
}
