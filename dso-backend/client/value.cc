#include "dso-backend/client/value.h"

#include <charconv>
#include <cstdlib>

#include "dso-backend/client/error.h"

namespace nvobj::dso {

namespace {

[[noreturn]] void wrong_kind(const Value& v, const char* want) {
  throw Error(Error::Kind::kProtocol, "",
              std::string("expected ") + want + " in the reply, got " + v.to_string());
}

}  // namespace

Value Value::integer(int64_t v) {
  Value out;
  out.kind_ = Kind::kInteger;
  out.integer_ = v;
  return out;
}

Value Value::string(std::string s, Kind kind) {
  Value out;
  out.kind_ = kind;
  out.str_ = std::move(s);
  return out;
}

Value Value::array(std::vector<Value> elements) {
  Value out;
  out.kind_ = Kind::kArray;
  out.elements_ = std::move(elements);
  return out;
}

int64_t Value::as_integer() const {
  if (kind_ == Kind::kInteger) return integer_;
  if (kind_ == Kind::kString) {  // an integer a method returned as a bulk string
    int64_t v = 0;
    auto [end, ec] = std::from_chars(str_.data(), str_.data() + str_.size(), v);
    if (ec == std::errc() && end == str_.data() + str_.size() && !str_.empty()) return v;
  }
  wrong_kind(*this, "an integer");
}

const std::string& Value::as_string() const {
  if (kind_ != Kind::kString && kind_ != Kind::kStatus) wrong_kind(*this, "a string");
  return str_;
}

std::optional<std::string> Value::as_optional_string() const {
  if (kind_ == Kind::kNil) return std::nullopt;
  return as_string();
}

double Value::as_double() const {
  if (kind_ == Kind::kInteger) return static_cast<double>(integer_);
  if (kind_ == Kind::kString && !str_.empty()) {
    // strtod, not from_chars: it also reads "inf" and "nan" as the server spells them.
    char* end = nullptr;
    double v = std::strtod(str_.c_str(), &end);
    if (end == str_.c_str() + str_.size()) return v;
  }
  wrong_kind(*this, "a number");
}

const std::vector<Value>& Value::as_array() const {
  if (kind_ != Kind::kArray) wrong_kind(*this, "an array");
  return elements_;
}

std::vector<std::string> Value::as_strings() const {
  std::vector<std::string> out;
  for (const Value& e : as_array()) out.push_back(e.as_string());
  return out;
}

std::vector<double> Value::as_doubles() const {
  std::vector<double> out;
  for (const Value& e : as_array()) out.push_back(e.as_double());
  return out;
}

std::string Value::to_string() const {
  switch (kind_) {
    case Kind::kNil: return "(nil)";
    case Kind::kInteger: return std::to_string(integer_);
    case Kind::kString:
    case Kind::kStatus: return "\"" + str_ + "\"";
    case Kind::kArray: {
      std::string s = "[";
      for (size_t i = 0; i < elements_.size(); ++i) {
        if (i > 0) s += ", ";
        s += elements_[i].to_string();
      }
      return s + "]";
    }
  }
  return "";
}

}  // namespace nvobj::dso
