// The nvobj-dso module ABI: how a shared library adds user-defined object
// types (Crucial's @Shared objects) whose methods run on the server.
//
// A type is a persistent class of the runtime's object model (a PObject
// with a fixed-layout persistent struct, see docs/programming-guide.md) plus
// a constructor from string arguments and methods by name:
//
//   class Counter : public nvobj::PObject<Counter, CounterData> {
//    public:
//     static constexpr std::string_view kClassName = "demo.Counter";  // = the type name
//     static constexpr nvobj::RefMap kRefs = nvobj::ref_map<CounterData>();
//     using PObject::PObject;
//     int64_t add(int64_t n) { set(&Data::value, get(&Data::value) + n); return get(&Data::value);
//     }
//   };
//
//   NVOBJ_DSO_MODULE(demo, registrar) {
//     registrar.add_type<Counter>()
//         .constructor([](nvobj::Store& s, const nvobj::dso::Args& a) {
//           a.expect(0, 1);
//           return s.make<Counter>(a.size() == 1 ? a.integer(0) : 0);
//         })
//         .method("add", [](Counter& c, const nvobj::dso::Args& a) {
//           a.expect(1);
//           return nvobj::dso::integer_reply(c.add(a.integer(0)));
//         });
//   }
//
// The server (nvobj-dso --load-module PATH) runs each DSO.CALL with the
// object's key locked, inside one failure-atomic block, and replies after
// the block committed. A method changes its object only through the object
// model (set, update, write_tail, Store::make, Store::free): those writes
// join the block. pobjects containers (PHashMap...) persist each operation
// on their own and would not be undone with the block.
//
// Linking: a module is built with these headers and links NO nvobj library.
// The server executable exports the runtime (nvobj-dso is linked with
// -rdynamic and the whole runtime and pobjects archives), so the module's
// calls into the runtime bind to the server's copy: one class index, one
// failure-atomic block per thread, one store. A module that carries its own
// copy of the runtime is refused at load (see ModuleInfo::probes).
//
// ABI rules: the server loads a module only when its ABI version, nvobj
// version and the sizes in NVOBJ_DSO_ABI_FACTS match its own, i.e. build
// modules against the installed headers of the nvobj that runs them. The
// entry point's name never changes; what it returns begins with a magic
// and the ABI version, so any server can tell an incompatible module from
// a library that is not a module at all.
#ifndef NVOBJ_DSO_BACKEND_MODULES_MODULE_API_H_
#define NVOBJ_DSO_BACKEND_MODULES_MODULE_API_H_

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "dso-backend/modules/module_version.h"
#include "runtime/block.h"
#include "runtime/class_registry.h"
#include "runtime/proxy.h"
#include "runtime/store.h"

namespace nvobj::dso {

// Bumped whenever anything below that crosses the boundary changes.
inline constexpr uint32_t kModuleAbiVersion = 1;
inline constexpr uint32_t kModuleMagic = 0x4d44564e;  // "NVDM"

// --- replies --------------------------------------------------------------------------

// What a method returns: one of the RESP values below. A method that throws
// instead aborts its block (nothing it wrote is applied) and its client
// gets an error reply with the exception's message. An error *returned*
// (error_reply) is an ordinary reply: the method's writes are kept.
class Reply {
 public:
  enum class Kind : uint8_t { kNil, kInteger, kDouble, kBulk, kSimple, kArray, kError };

  Reply() = default;
  Reply(Kind kind, int64_t integer, double number, std::string text,
        std::vector<std::string> elements)
      : kind_(kind),
        integer_(integer),
        number_(number),
        text_(std::move(text)),
        elements_(std::move(elements)) {}

  Kind kind() const { return kind_; }
  int64_t integer() const { return integer_; }
  double number() const { return number_; }
  // kBulk, kSimple: the string; kError: the whole error line ("ERR ...").
  const std::string& text() const { return text_; }
  const std::vector<std::string>& elements() const { return elements_; }

 private:
  Kind kind_ = Kind::kNil;
  int64_t integer_ = 0;
  double number_ = 0;
  std::string text_;
  std::vector<std::string> elements_;
};

inline Reply nil_reply() { return Reply(); }
inline Reply integer_reply(int64_t v) { return Reply(Reply::Kind::kInteger, v, 0, {}, {}); }
// A double (RESP3 double; RESP2 clients get a bulk string, as ZSCORE).
inline Reply double_reply(double v) { return Reply(Reply::Kind::kDouble, 0, v, {}, {}); }
inline Reply bulk_reply(std::string s) { return Reply(Reply::Kind::kBulk, 0, 0, std::move(s), {}); }
inline Reply ok_reply() { return Reply(Reply::Kind::kSimple, 0, 0, "OK", {}); }
inline Reply array_reply(std::vector<std::string> elements) {
  return Reply(Reply::Kind::kArray, 0, 0, {}, std::move(elements));
}
// "-ERR message", or "-CODE message" with a code (one upper-case word).
inline Reply error_reply(std::string_view message) {
  return Reply(Reply::Kind::kError, 0, 0, "ERR " + std::string(message), {});
}
inline Reply error_reply(std::string_view code, std::string_view message) {
  return Reply(Reply::Kind::kError, 0, 0, std::string(code) + " " + std::string(message), {});
}

// The shortest text that reads back as the same double ("0.1", "3", "inf").
inline std::string format_double(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// --- arguments --------------------------------------------------------------------------

// Thrown by Args' checks: the client gets "-ERR <what>" and the call is not
// applied. Methods may throw it themselves.
class ArgError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A call's arguments (after the method name, IDEMPOTENT and its ids
// removed), with parsing helpers that throw ArgError.
class Args {
 public:
  Args(std::string_view what, std::span<const std::string> args) : what_(what), args_(args) {}

  size_t size() const { return args_.size(); }
  bool empty() const { return args_.empty(); }
  std::string_view operator[](size_t i) const { return args_[i]; }
  // "method 'update'" or "constructor": for error messages.
  std::string_view what() const { return what_; }

  // Exactly n arguments, or between lo and hi.
  void expect(size_t n) const { expect(n, n); }
  void expect(size_t lo, size_t hi) const {
    if (size() >= lo && size() <= hi) return;
    std::string want =
        lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi);
    throw ArgError("wrong number of arguments for " + std::string(what_) + ": expected " + want +
                   ", got " + std::to_string(size()));
  }
  int64_t integer(size_t i) const {
    std::string_view s = at(i);
    int64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size())
      throw ArgError(position(i) + " is not an integer or out of range");
    return v;
  }
  // A finite double ("1.5", "-2e3").
  double number(size_t i) const {
    std::string_view s = at(i);
    double v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v))
      throw ArgError(position(i) + " is not a valid float");
    return v;
  }

 private:
  std::string_view at(size_t i) const {
    if (i >= size()) throw ArgError("missing " + position(i));
    return args_[i];
  }
  std::string position(size_t i) const {
    return "argument " + std::to_string(i + 1) + " of " + std::string(what_);
  }

  std::string_view what_;
  std::span<const std::string> args_;
};

// --- types -------------------------------------------------------------------------------

// A type as the server sees it: every callable crosses the boundary as a
// std::function over offsets, so the server never needs the module's class.
struct ModuleType {
  using Construct = std::function<uint64_t(Store&, const Args&)>;
  using Method = std::function<Reply(Store&, uint64_t object, const Args&)>;

  std::string name;  // the class's kClassName
  // The pool's id of the type's class (interned on first use).
  std::function<uint32_t(Store&)> class_id;
  // Makes a new object (inside the server's block) and returns its offset.
  Construct construct;
  std::map<std::string, Method, std::less<>> methods;
};

// Fills in a ModuleType for class T (returned by ModuleRegistrar::add_type).
template <typename T>
class TypeBuilder {
 public:
  explicit TypeBuilder(ModuleType& type) : type_(type) {
    type_.name = std::string(T::kClassName);
    type_.class_id = [](Store& s) { return s.class_id<T>(); };
    // Without a constructor: no arguments, every field zero.
    type_.construct = [](Store& s, const Args& a) {
      a.expect(0);
      return s.make<T>().offset();
    };
  }
  // f(Store&, const Args&) -> Ref<T>: DSO.NEW's arguments after the key.
  template <typename F>
  TypeBuilder& constructor(F f) {
    type_.construct = [f = std::move(f)](Store& s, const Args& a) -> uint64_t {
      return Ref<T>(f(s, a)).offset();
    };
    return *this;
  }
  // f(T&, const Args&) -> Reply. Method names are case-sensitive.
  template <typename F>
  TypeBuilder& method(std::string name, F f) {
    type_.methods[std::move(name)] = [f = std::move(f)](Store& s, uint64_t object,
                                                        const Args& a) -> Reply {
      return f(s.proxy<T>(object), a);
    };
    return *this;
  }

 private:
  ModuleType& type_;
};

// Handed to the module's registration function. The server implements it;
// its virtual functions are the only calls from module to server that do
// not go through exported runtime symbols.
class ModuleRegistrar {
 public:
  // A new type named T::kClassName, filled in through the builder.
  template <typename T>
  TypeBuilder<T> add_type() {
    return TypeBuilder<T>(new_type());
  }
  // The server checks the types (names unique across modules, constructor
  // and methods set) after the registration function returns.
  virtual ModuleType& new_type() = 0;

 protected:
  ~ModuleRegistrar() = default;
};

// --- the entry point -----------------------------------------------------------------------

// Facts about the build that must be equal in server and module: sizes of
// the runtime's classes whose layout inline code in the module depends on,
// and of the types that cross the boundary. Expanded in each side's own
// translation unit, so each side reports what its compiler saw.
struct AbiFact {
  const char* name;
  uint64_t value;
};
// clang-format off
#define NVOBJ_DSO_ABI_FACT(expr) ::nvobj::dso::AbiFact{#expr, static_cast<uint64_t>(expr)}
#define NVOBJ_DSO_ABI_FACTS                                                                 \
  NVOBJ_DSO_ABI_FACT(__cplusplus), NVOBJ_DSO_ABI_FACT(_GLIBCXX_USE_CXX11_ABI),              \
  NVOBJ_DSO_ABI_FACT(sizeof(void*)), NVOBJ_DSO_ABI_FACT(sizeof(nvobj::Store)),              \
  NVOBJ_DSO_ABI_FACT(sizeof(nvobj::ProxyBase)),                                             \
  NVOBJ_DSO_ABI_FACT(sizeof(nvobj::detail::BlockState)),                                    \
  NVOBJ_DSO_ABI_FACT(sizeof(nvobj::ClassInfo)), NVOBJ_DSO_ABI_FACT(sizeof(nvobj::RefMap)),  \
  NVOBJ_DSO_ABI_FACT(sizeof(nvobj::Pool)), NVOBJ_DSO_ABI_FACT(sizeof(nvobj::Error)),        \
  NVOBJ_DSO_ABI_FACT(sizeof(nvobj::dso::Reply)), NVOBJ_DSO_ABI_FACT(sizeof(nvobj::dso::Args)), \
  NVOBJ_DSO_ABI_FACT(sizeof(nvobj::dso::ModuleType)), NVOBJ_DSO_ABI_FACT(sizeof(std::string)), \
  NVOBJ_DSO_ABI_FACT(sizeof(std::function<void()>))
// clang-format on

// What nvobj_dso_module() returns. magic, abi_version and info_size are
// fixed for every ABI version; the rest is ABI version 1.
struct ModuleInfo {
  uint32_t magic;        // kModuleMagic
  uint32_t abi_version;  // kModuleAbiVersion of the headers the module was built with
  uint32_t info_size;    // sizeof(ModuleInfo)
  uint32_t fact_count;
  const char* name;           // the module's name (logs, errors)
  const char* nvobj_version;  // NVOBJ_VERSION_STRING
  const char* compiler;       // __VERSION__
  const AbiFact* facts;
  // Addresses of runtime functions as the module's code reaches them. They
  // equal the server's own unless the module bound a private copy of the
  // runtime (linked it in with hidden visibility or -Bsymbolic), whose class
  // index and blocks would not be the server's.
  const void* probes[2];
  void (*register_types)(ModuleRegistrar& registrar);
};

#define NVOBJ_DSO_MODULE_PROBES                                      \
  {                                                                  \
    reinterpret_cast<const void*>(&::nvobj::next_class_index),       \
        reinterpret_cast<const void*>(&::nvobj::detail::block_state) \
  }

#define NVOBJ_DSO_STRINGIFY_(x) #x
#define NVOBJ_DSO_STRINGIFY(x) NVOBJ_DSO_STRINGIFY_(x)

// Defines the module's entry point; the block that follows registers its
// types:  NVOBJ_DSO_MODULE(kmeans, r) { r.add_type<GlobalCentroids>()...; }
// module_name may be a macro (it is expanded).
#define NVOBJ_DSO_MODULE(module_name, registrar)                                    \
  static void nvobj_dso_register_types(::nvobj::dso::ModuleRegistrar& registrar);   \
  extern "C" __attribute__((visibility("default"))) const ::nvobj::dso::ModuleInfo* \
  nvobj_dso_module() {                                                              \
    static const ::nvobj::dso::AbiFact facts[] = {NVOBJ_DSO_ABI_FACTS};             \
    static const ::nvobj::dso::ModuleInfo info = {::nvobj::dso::kModuleMagic,       \
                                                  ::nvobj::dso::kModuleAbiVersion,  \
                                                  sizeof(::nvobj::dso::ModuleInfo), \
                                                  sizeof(facts) / sizeof(facts[0]), \
                                                  NVOBJ_DSO_STRINGIFY(module_name), \
                                                  NVOBJ_VERSION_STRING,             \
                                                  __VERSION__,                      \
                                                  facts,                            \
                                                  NVOBJ_DSO_MODULE_PROBES,          \
                                                  &nvobj_dso_register_types};       \
    return &info;                                                                   \
  }                                                                                 \
  static void nvobj_dso_register_types(::nvobj::dso::ModuleRegistrar& registrar)

// The entry point's name (dlsym).
inline constexpr char kModuleEntryPoint[] = "nvobj_dso_module";

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_MODULES_MODULE_API_H_
