// A small streaming JSON writer (objects, arrays, strings, numbers), indented two spaces per level.
#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>
#include <vector>

namespace sattn_tools {

class JsonWriter {
 public:
  explicit JsonWriter(std::ostream& out) : out_(out) {}

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }

  // Starts a member of the enclosing object; the next value call gives its value.
  void key(std::string_view name);

  void string(std::string_view text);
  void number(double value);  // NaN and infinities have no JSON form and are written as null
  void integer(int64_t value);
  void unsigned_integer(uint64_t value);
  void boolean(bool value);
  void null();

 private:
  void start_value();
  void open(char bracket);
  void close(char bracket);
  void new_line();
  void write_quoted(std::string_view text);

  std::ostream& out_;
  std::vector<bool> container_has_items_;  // one entry per open object or array
  bool value_follows_key_ = false;
};

}  // namespace sattn_tools
