#include "json_writer.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace sattn_tools {

void JsonWriter::key(std::string_view name) {
  start_value();
  write_quoted(name);
  out_ << ": ";
  value_follows_key_ = true;
}

void JsonWriter::string(std::string_view text) {
  start_value();
  write_quoted(text);
}

void JsonWriter::number(double value) {
  if (!std::isfinite(value)) {
    null();
    return;
  }
  start_value();
  // Shortest text that reads back to the same double.
  std::array<char, 32> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out_.write(buffer.data(), result.ptr - buffer.data());
}

void JsonWriter::integer(int64_t value) {
  start_value();
  out_ << value;
}

void JsonWriter::unsigned_integer(uint64_t value) {
  start_value();
  out_ << value;
}

void JsonWriter::boolean(bool value) {
  start_value();
  out_ << (value ? "true" : "false");
}

void JsonWriter::null() {
  start_value();
  out_ << "null";
}

void JsonWriter::start_value() {
  if (value_follows_key_) {
    value_follows_key_ = false;
    return;
  }
  if (container_has_items_.empty()) return;
  if (container_has_items_.back()) out_ << ',';
  container_has_items_.back() = true;
  new_line();
}

void JsonWriter::open(char bracket) {
  start_value();
  out_ << bracket;
  container_has_items_.push_back(false);
}

void JsonWriter::close(char bracket) {
  const bool had_items = container_has_items_.back();
  container_has_items_.pop_back();
  if (had_items) new_line();
  out_ << bracket;
  if (container_has_items_.empty()) out_ << '\n';
}

void JsonWriter::new_line() {
  out_ << '\n';
  for (size_t level = 0; level < container_has_items_.size(); ++level) out_ << "  ";
}

void JsonWriter::write_quoted(std::string_view text) {
  out_ << '"';
  for (const char c : text) {
    switch (c) {
      case '"':
        out_ << "\\\"";
        break;
      case '\\':
        out_ << "\\\\";
        break;
      case '\n':
        out_ << "\\n";
        break;
      case '\t':
        out_ << "\\t";
        break;
      case '\r':
        out_ << "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          std::array<char, 8> escaped{};
          std::snprintf(escaped.data(), escaped.size(), "\\u%04x",
                        static_cast<unsigned>(static_cast<unsigned char>(c)));
          out_ << escaped.data();
        } else {
          out_ << c;
        }
    }
  }
  out_ << '"';
}

}  // namespace sattn_tools
