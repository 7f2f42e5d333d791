#include "options.hpp"

#include <charconv>
#include <string_view>
#include <system_error>

#include "default_problems.hpp"
#include "problem_list.hpp"

namespace sattn_bench {
namespace {

template <typename Integer>
Integer option_integer(std::string_view option, std::string_view text, Integer minimum) {
  Integer value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < minimum) {
    throw UsageError(std::string(option) + " expects an integer >= " + std::to_string(minimum) + ", got '" +
                     std::string(text) + "'");
  }
  return value;
}

Mode parse_mode(std::string_view text) {
  if (text == "perf") return Mode::perf;
  if (text == "corr") return Mode::corr;
  if (text == "both") return Mode::both;
  if (text == "plan") return Mode::plan;
  throw UsageError("--mode expects perf, corr, both or plan, got '" + std::string(text) + "'");
}

}  // namespace

std::string mode_name(Mode mode) {
  switch (mode) {
    case Mode::perf:
      return "perf";
    case Mode::corr:
      return "corr";
    case Mode::both:
      return "both";
    case Mode::plan:
      return "plan";
  }
  return "?";
}

Options parse_options(int argc, char** argv) {
  Options options;
  bool mode_given = false;
  std::vector<std::string> pending_arguments;  // problem words since the last --batch, to keep the given order
  const auto flush_arguments = [&] {
    for (Problem& problem : problems_from_arguments(pending_arguments)) options.problems.push_back(std::move(problem));
    pending_arguments.clear();
  };

  for (int index = 1; index < argc; ++index) {
    const std::string_view argument = argv[index];
    if (!argument.starts_with("--")) {
      pending_arguments.emplace_back(argument);
      continue;
    }
    const auto equals = argument.find('=');
    const std::string_view name = argument.substr(0, equals);
    const std::string_view value = equals == std::string_view::npos ? std::string_view() : argument.substr(equals + 1);
    const bool has_value = equals != std::string_view::npos;
    if (name == "--help") {
      options.show_help = true;
      continue;
    }
    if (!has_value || value.empty())
      throw UsageError("option '" + std::string(argument) + "' needs a value: " + std::string(name) + "=VALUE");
    if (name == "--mode") {
      options.mode = parse_mode(value);
      mode_given = true;
    } else if (name == "--backend") {
      options.backend = std::string(value);
    } else if (name == "--reps") {
      options.reps = option_integer<int>(name, value, 1);
    } else if (name == "--threads") {
      options.threads = option_integer<int>(name, value, 1);
    } else if (name == "--json") {
      options.json_path = std::string(value);
    } else if (name == "--seed") {
      options.seed = option_integer<uint64_t>(name, value, 0);
    } else if (name == "--compare-dense") {
      if (value != "yes" && value != "no")
        throw UsageError("--compare-dense expects yes or no, got '" + std::string(value) + "'");
      options.compare_dense = value == "yes";
    } else if (name == "--warm-up") {
      if (value != "yes" && value != "no")
        throw UsageError("--warm-up expects yes or no, got '" + std::string(value) + "'");
      options.warm_up = value == "yes";
    } else if (name == "--batch") {
      flush_arguments();
      for (Problem& problem : read_batch_file(std::string(value))) options.problems.push_back(std::move(problem));
    } else {
      throw UsageError("unknown option '" + std::string(name) + "'");
    }
  }
  flush_arguments();

  if (options.problems.empty() && !options.show_help) {
    // The README's main job: the representative CPU set, checked and then timed on the best backend the machine has
    // (automatic selection, unless --backend names one).
    options.default_set = true;
    options.problems = default_problems();
    if (!mode_given) options.mode = Mode::both;
  }
  return options;
}

}  // namespace sattn_bench
