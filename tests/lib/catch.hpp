// Catch2 2 (Debian 12) or Catch2 3 (Debian 13): every test includes this, never Catch2's own
// headers. A test's main defines CATCH_CONFIG_RUNNER before it and calls Catch::Session.
#pragma once

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
