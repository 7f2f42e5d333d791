#include "problem_list.hpp"

#include <fstream>

namespace sattn_bench {

std::vector<Problem> read_batch_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw ProblemError("cannot open batch file '" + path + "'");
  std::vector<Problem> problems;
  std::string line;
  for (int line_number = 1; std::getline(file, line); ++line_number) {
    const std::string_view text = std::string_view(line).substr(0, line.find('#'));
    if (split_words(text).empty()) continue;
    problems.push_back(parse_problem(text, path + ":" + std::to_string(line_number)));
  }
  return problems;
}

std::vector<Problem> problems_from_arguments(const std::vector<std::string>& arguments) {
  std::vector<std::string> texts;
  for (const std::string& argument : arguments) {
    const std::vector<std::string_view> words = split_words(argument);
    if (words.empty()) continue;
    const bool starts_problem = texts.empty() || words.size() > 1 || is_shape_word(words.front());
    if (starts_problem) {
      texts.push_back(argument);
    } else {
      texts.back() += " " + argument;
    }
  }
  std::vector<Problem> problems;
  for (size_t index = 0; index < texts.size(); ++index) {
    problems.push_back(parse_problem(texts[index], "command-line problem " + std::to_string(index + 1)));
  }
  return problems;
}

}  // namespace sattn_bench
