// Joins strings into one. Used instead of chains of `"literal" + std::string`, which g++ 12 at -O3 misreads as
// overlapping copies (a false -Wrestrict, GCC bug 105329) and which -Werror turns into a build failure.
#pragma once

#include <string>
#include <string_view>

namespace sattn_bench {

template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string text;
  text.reserve((std::string_view(parts).size() + ... + 0));
  (text.append(std::string_view(parts)), ...);
  return text;
}

}  // namespace sattn_bench
