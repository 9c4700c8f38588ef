// Properties: the key/value settings of a YCSB workload, read from Java
// .properties files (the format YCSB's workload files use) and from
// `-p key=value` overrides on the command line, later settings winning.
//
// Parsing follows java.util.Properties closely enough for every workload
// file YCSB ships: `#` and `!` start comments, the key ends at the first
// unescaped `=`, `:` or whitespace, a trailing backslash continues the line,
// and \t \n \r \\ \= \: \<space> escapes are understood.
#ifndef NVOBJ_BENCH_YCSB_PROPERTIES_H_
#define NVOBJ_BENCH_YCSB_PROPERTIES_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "runtime/status.h"

namespace nvobj::ycsb {

class Properties {
 public:
  // Adds the settings in `text`; `origin` names it in error messages.
  Status parse(std::string_view text, std::string_view origin = "properties");
  Status load_file(const std::string& path);
  // "key=value" (the -p form).
  Status parse_assignment(std::string_view assignment);

  void set(const std::string& key, const std::string& value) { values_[key] = value; }
  bool has(const std::string& key) const { return values_.count(key) != 0; }

  std::string get(const std::string& key, const std::string& fallback) const;
  // A missing key yields the fallback; a malformed value is an error
  // (kInvalidArgument naming the key), never silently the fallback.
  Result<int64_t> get_int(const std::string& key, int64_t fallback) const;
  Result<double> get_double(const std::string& key, double fallback) const;
  Result<bool> get_bool(const std::string& key, bool fallback) const;

  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace nvobj::ycsb

#endif  // NVOBJ_BENCH_YCSB_PROPERTIES_H_
