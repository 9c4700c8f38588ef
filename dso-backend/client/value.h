// A reply of nvobj-dso as the client returns it (a RESP2 value): nil, an
// integer, a string (bulk or status) or an array. Error replies are never
// values: the client throws them (error.h). The accessors check the kind
// and throw an Error of kind kProtocol when it is not the expected one.
#ifndef NVOBJ_DSO_BACKEND_CLIENT_VALUE_H_
#define NVOBJ_DSO_BACKEND_CLIENT_VALUE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nvobj::dso {

class Value {
 public:
  enum class Kind { kNil, kInteger, kString, kStatus, kArray };

  Value() = default;
  static Value nil() { return Value(); }
  static Value integer(int64_t v);
  static Value string(std::string s, Kind kind = Kind::kString);
  static Value array(std::vector<Value> elements);

  Kind kind() const { return kind_; }
  bool is_nil() const { return kind_ == Kind::kNil; }

  int64_t as_integer() const;
  // A bulk or status string.
  const std::string& as_string() const;
  // nil -> nullopt, else as_string().
  std::optional<std::string> as_optional_string() const;
  // A bulk string holding a number (how RESP2 carries a double), or an integer.
  double as_double() const;
  const std::vector<Value>& as_array() const;
  // An array of strings; each element through as_string().
  std::vector<std::string> as_strings() const;
  // An array of numbers; each element through as_double().
  std::vector<double> as_doubles() const;

  // For messages and tests: 42, "text", (nil), [a, b].
  std::string to_string() const;

 private:
  Kind kind_ = Kind::kNil;
  int64_t integer_ = 0;
  std::string str_;
  std::vector<Value> elements_;
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_CLIENT_VALUE_H_
