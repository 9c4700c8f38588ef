// A test module for dso_module_test: "test.Counter", one int64, with
// methods that exercise what the examples do not: every reply kind, an
// exception after a write (the block must abort), a non-standard
// exception, and SIGKILL before or after the block commits (the crash
// points of an idempotent call). Built twice: as counter_module.so and, with
// NVOBJ_TEST_MODULE_NAME=dup, as a second module defining the same type.
#include <signal.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dso-backend/modules/module_api.h"

#ifndef NVOBJ_TEST_MODULE_NAME
#define NVOBJ_TEST_MODULE_NAME counter
#endif

namespace {

using nvobj::dso::Args;
using nvobj::dso::Reply;

struct CounterData {
  int64_t value;
};

class Counter : public nvobj::PObject<Counter, CounterData> {
 public:
  static constexpr std::string_view kClassName = "test.Counter";
  static constexpr nvobj::RefMap kRefs = nvobj::ref_map<CounterData>();
  using PObject::PObject;

  int64_t value() const { return get(&Data::value); }
  int64_t add(int64_t n) {
    set(&Data::value, value() + n);
    return value();
  }
};

// Kills the server once the calling block has committed (durably), before
// the reply is written: the crash an idempotent retry must survive.
void die_after_commit() {
  nvobj::detail::block_state().on_end.emplace_back([](bool committed) {
    if (committed) ::raise(SIGKILL);
  });
}

}  // namespace

NVOBJ_DSO_MODULE(NVOBJ_TEST_MODULE_NAME, registrar) {
  registrar.add_type<Counter>()
      .constructor([](nvobj::Store& s, const Args& a) {
        a.expect(0, 1);
        return s.make<Counter>(a.empty() ? int64_t{0} : a.integer(0));
      })
      .method("add",
              [](Counter& c, const Args& a) {
                a.expect(1);
                return nvobj::dso::integer_reply(c.add(a.integer(0)));
              })
      .method("get",
              [](Counter& c, const Args& a) {
                a.expect(0);
                return nvobj::dso::integer_reply(c.value());
              })
      .method("add_then_throw",
              [](Counter& c, const Args& a) -> Reply {
                c.add(a.integer(0));
                throw std::runtime_error("add_then_throw: thrown after the write");
              })
      .method("add_then_throw_int",
              [](Counter& c, const Args& a) -> Reply {
                c.add(a.integer(0));
                throw 42;
              })
      .method("add_then_return_error",
              [](Counter& c, const Args& a) {
                c.add(a.integer(0));
                return nvobj::dso::error_reply("MYERR", "returned, not thrown");
              })
      .method("add_then_die_before_commit",
              [](Counter& c, const Args& a) -> Reply {
                c.add(a.integer(0));
                ::raise(SIGKILL);
                return nvobj::dso::nil_reply();
              })
      .method("add_then_die_after_commit",
              [](Counter& c, const Args& a) {
                die_after_commit();
                return nvobj::dso::integer_reply(c.add(a.integer(0)));
              })
      // The arguments back, as the method saw them.
      .method("args",
              [](Counter&, const Args& a) {
                std::vector<std::string> v;
                for (size_t i = 0; i < a.size(); ++i) v.emplace_back(a[i]);
                return nvobj::dso::array_reply(std::move(v));
              })
      .method("reply", [](Counter&, const Args& a) -> Reply {
        a.expect(1);
        std::string_view kind = a[0];
        if (kind == "nil") return nvobj::dso::nil_reply();
        if (kind == "double") return nvobj::dso::double_reply(2.5);
        if (kind == "bulk") return nvobj::dso::bulk_reply(std::string("a\0b", 3));
        if (kind == "ok") return nvobj::dso::ok_reply();
        if (kind == "empty") return nvobj::dso::array_reply({});
        if (kind == "error") return nvobj::dso::error_reply("plain");
        throw nvobj::dso::ArgError("unknown reply kind");
      });
}
