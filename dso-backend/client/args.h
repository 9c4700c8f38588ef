// How the client spells arguments on the wire: strings as they are,
// integers in decimal, doubles the shortest way that reads back exactly
// (as the server's format_double does), and ranges (a std::vector, an
// array) as one argument per element. Used by Client::call and
// ModuleObject::call so that `obj.call("update", coords, counts)` works.
#ifndef NVOBJ_DSO_BACKEND_CLIENT_ARGS_H_
#define NVOBJ_DSO_BACKEND_CLIENT_ARGS_H_

#include <charconv>
#include <concepts>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace nvobj::dso {

using ArgList = std::vector<std::string>;

inline void append_arg(ArgList& out, std::string_view s) { out.emplace_back(s); }
inline void append_arg(ArgList& out, const char* s) { out.emplace_back(s); }
inline void append_arg(ArgList& out, const std::string& s) { out.push_back(s); }

template <std::integral T>
requires(!std::same_as<T, bool> && !std::same_as<T, char>) void append_arg(ArgList& out, T v) {
  out.push_back(std::to_string(v));
}

inline void append_arg(ArgList& out, bool v) { out.emplace_back(v ? "1" : "0"); }

template <std::floating_point T>
void append_arg(ArgList& out, T v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<double>(v));
  out.emplace_back(buf, end);
}

template <std::ranges::input_range R>
requires(!std::convertible_to<const R&, std::string_view>) void append_arg(ArgList& out,
                                                                           const R& values) {
  for (const auto& v : values) append_arg(out, v);
}

template <typename... A>
ArgList make_args(const A&... args) {
  ArgList out;
  (append_arg(out, args), ...);
  return out;
}

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_CLIENT_ARGS_H_
