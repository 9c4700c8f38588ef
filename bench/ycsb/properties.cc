#include "bench/ycsb/properties.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace nvobj::ycsb {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\f'; }

// Joins continuation lines: a line ending in an odd number of backslashes
// continues on the next, whose leading whitespace is dropped.
std::vector<std::string> logical_lines(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  bool continuing = false;
  size_t i = 0;
  while (i <= text.size()) {
    size_t end = text.find('\n', i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(i, end - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (continuing) {
      while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    }
    size_t slashes = 0;
    while (slashes < line.size() && line[line.size() - 1 - slashes] == '\\') ++slashes;
    if (slashes % 2 == 1) {
      cur.append(line.substr(0, line.size() - 1));
      continuing = true;
    } else {
      cur.append(line);
      out.push_back(std::move(cur));
      cur.clear();
      continuing = false;
    }
    i = end + 1;
  }
  if (continuing) out.push_back(std::move(cur));
  return out;
}

char unescape(char c) {
  switch (c) {
    case 't': return '\t';
    case 'n': return '\n';
    case 'r': return '\r';
    case 'f': return '\f';
    default: return c;
  }
}

}  // namespace

Status Properties::parse(std::string_view text, std::string_view origin) {
  int line_no = 0;
  for (const std::string& raw : logical_lines(text)) {
    ++line_no;
    std::string_view line = raw;
    while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    if (line.empty() || line.front() == '#' || line.front() == '!') continue;
    std::string key;
    size_t i = 0;
    for (; i < line.size(); ++i) {
      char c = line[i];
      if (c == '\\' && i + 1 < line.size()) {
        key.push_back(unescape(line[++i]));
        continue;
      }
      if (c == '=' || c == ':' || is_space(c)) break;
      key.push_back(c);
    }
    // Separator: whitespace, then at most one '=' or ':', then whitespace.
    while (i < line.size() && is_space(line[i])) ++i;
    if (i < line.size() && (line[i] == '=' || line[i] == ':')) ++i;
    while (i < line.size() && is_space(line[i])) ++i;
    std::string value;
    for (; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        value.push_back(unescape(line[++i]));
      } else {
        value.push_back(line[i]);
      }
    }
    if (key.empty()) {
      return Status(StatusCode::kInvalidArgument,
                    fmt::format("{}: line {}: no key before the value", origin, line_no));
    }
    values_[key] = std::move(value);
  }
  return Status::ok();
}

Status Properties::load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return status_from_errno(errno, fmt::format("cannot read workload file {}", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

Status Properties::parse_assignment(std::string_view assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("'{}' is not key=value", std::string(assignment)));
  }
  values_[std::string(assignment.substr(0, eq))] = std::string(assignment.substr(eq + 1));
  return Status::ok();
}

std::string Properties::get(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

Result<int64_t> Properties::get_int(const std::string& key, int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || errno != 0 || *end != '\0') {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("property {}: '{}' is not an integer", key, s));
  }
  return static_cast<int64_t>(v);
}

Result<double> Properties::get_double(const std::string& key, double fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || errno != 0 || *end != '\0') {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("property {}: '{}' is not a number", key, s));
  }
  return v;
}

Result<bool> Properties::get_bool(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  // Java's Boolean.parseBoolean: "true" in any case is true, anything else
  // false. YCSB relies on that, so a typo reads as false there too; we refuse
  // what is neither word instead, a typo being likelier than intent.
  std::string v;
  for (char c : it->second)
    v.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (v == "true") return true;
  if (v == "false") return false;
  return Status(StatusCode::kInvalidArgument,
                fmt::format("property {}: '{}' is neither true nor false", key, it->second));
}

}  // namespace nvobj::ycsb
