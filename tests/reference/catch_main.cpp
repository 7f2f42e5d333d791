// The one Catch2 main shared by the reference self-test and the accuracy suites (it is slow to compile).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
