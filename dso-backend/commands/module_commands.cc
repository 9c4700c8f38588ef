// User-defined objects (docs/dso.md): DSO.CALL, and DSO.NEW for module
// types.
//
//   DSO.NEW <type> <key> [PERSISTENT|EPHEMERAL] [constructor args...]
//   DSO.CALL <type> <key> <method> [args...] [IDEMPOTENT <caller-id> <call-id>]
//
// Both hold the key's stripe exclusively (the command table's lock), which
// is the per-object lock: calls on one object run one at a time, calls on
// different objects in parallel.
#include <optional>
#include <span>

#include <fmt/format.h>

#include "dso-backend/commands/command_util.h"
#include "dso-backend/modules/module_objects.h"
#include "dso-backend/modules/module_registry.h"
#include "runtime/block.h"
#include "runtime/error.h"

namespace nvobj::dso::cmd {

namespace {

constexpr std::string_view kNeedNvobj = "user-defined objects need the nvobj backend";

void unknown_type(std::string_view type, ReplyWriter& out) {
  out.error(fmt::format("unknown type '{}'", type));
}

void write_reply(const Reply& r, ReplyWriter& out) {
  switch (r.kind()) {
    case Reply::Kind::kNil: return out.null();
    case Reply::Kind::kInteger: return out.integer(r.integer());
    case Reply::Kind::kDouble: return out.double_value(r.number());
    case Reply::Kind::kBulk: return out.bulk_string(r.text());
    case Reply::Kind::kSimple: return out.simple_string(r.text());
    case Reply::Kind::kArray:
      out.array_header(r.elements().size());
      for (const std::string& e : r.elements()) out.bulk_string(e);
      return;
    case Reply::Kind::kError: {
      std::string_view t = r.text();
      size_t sp = t.find(' ');
      if (sp == std::string_view::npos) return out.error(t, "");
      return out.error(t.substr(0, sp), t.substr(sp + 1));
    }
  }
}

// Runs fn(), turning what a module's code throws into an error reply:
// ArgError and other std::exceptions as "-ERR <what>", anything else as a
// generic error. nvobj::Error (a full pool: -OOM) goes on to the command
// layer. Returns whether fn completed.
template <typename Fn>
bool run_module_code(std::string_view what, ReplyWriter& out, Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    out.error(e.what());
  } catch (...) {
    out.error(fmt::format("{} failed: it threw a non-standard exception", what));
  }
  return false;
}

void cmd_dso_call(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  // The type first, as DSO.NEW: an unknown type is the same error on every
  // backend (commands_fuzz compares the volatile and nvobj replies).
  const ModuleType* type = module_registry().find(a[1]);
  if (type == nullptr) return unknown_type(a[1], out);
  UserObjects* objects = s.backend->user_objects();
  if (objects == nullptr) return out.error(kNeedNvobj);
  auto method = type->methods.find(a[3]);
  if (method == type->methods.end())
    return out.error(fmt::format("unknown method '{}' of type '{}'", a[3], a[1]));

  // IDEMPOTENT <caller-id> <call-id>: always the option when it is the
  // third argument from the end.
  size_t end = a.size();
  std::optional<std::pair<std::string_view, uint64_t>> idempotent;
  if (end >= 7 && lower(a[end - 3]) == "idempotent") {
    int64_t id;
    if (!parse_int64(a[end - 1], &id) || id < 0)
      return out.error("call id is not a non-negative integer");
    if (a[end - 2].empty() || a[end - 2].size() > ModuleObject::kMaxCallerBytes)
      return out.error(
          fmt::format("caller id must be 1 to {} bytes", ModuleObject::kMaxCallerBytes));
    idempotent.emplace(a[end - 2], static_cast<uint64_t>(id));
    end -= 3;
  }

  uint64_t envelope;
  Found f = objects->find(a[2], &envelope);
  if (f == Found::kMissing) return out.error("no such object");
  if (wrong_type(f, out)) return;
  Store& store = objects->store();
  ModuleObject& object = store.proxy<ModuleObject>(envelope);
  if (store.class_id_of(object.object()) != type->class_id(store)) return wrong_type(out);

  if (idempotent) {
    std::string recorded;
    uint64_t last = 0;
    switch (object.lookup(idempotent->first, idempotent->second, &recorded, &last)) {
      case ModuleObject::Seen::kRecorded: return write_reply(decode_reply(recorded), out);
      case ModuleObject::Seen::kStale:
        return out.error(fmt::format("stale call id {}: caller '{}' already made call {}",
                                     idempotent->second, idempotent->first, last));
      case ModuleObject::Seen::kNew: break;
    }
  }

  // The method and its record in one block: a crash keeps both or neither,
  // and an exception discards both.
  std::string what = fmt::format("method '{}'", a[3]);
  dso::Args method_args(what, std::span<const std::string>(a.data() + 4, end - 4));
  Reply reply;
  ModuleObject::Pending pending;
  bool ok = run_module_code(what, out, [&] {
    reply = failure_atomic([&] {
      Reply r = method->second(store, object.object(), method_args);
      if (idempotent)
        pending = object.record(idempotent->first, idempotent->second, encode_reply(r));
      return r;
    });
  });
  if (!ok) return;
  if (idempotent) object.commit(pending);
  write_reply(reply, out);
}

}  // namespace

bool new_module_object(ServerContext& s, Args& a, ReplyWriter& out) {
  const ModuleType* type = module_registry().find(a[1]);
  if (type == nullptr) return false;
  UserObjects* objects = s.backend->user_objects();
  if (objects == nullptr) {
    out.error(kNeedNvobj);
    return true;
  }
  size_t first = 3;
  if (a.size() > 3) {
    std::string flag = lower(a[3]);
    // Module objects keep their fields in the pool and change them in
    // failure-atomic blocks; an ephemeral one would be a second kind of
    // binding for the key space to keep in step (docs/dso.md).
    if (flag == "ephemeral") {
      out.error(
          "user-defined objects are always persistent (EPHEMERAL is for coordination "
          "objects)");
      return true;
    }
    if (flag == "persistent") first = 4;
  }
  uint64_t existing;
  Found f = objects->find(a[2], &existing);
  if (wrong_type(f, out)) return true;
  Store& store = objects->store();
  if (f == Found::kOk) {
    // Idempotent: the object is there with this type (its arguments are
    // not compared); another type is WRONGTYPE.
    uint64_t held = store.proxy<ModuleObject>(existing).object();
    if (store.class_id_of(held) != type->class_id(store)) {
      wrong_type(out);
    } else {
      out.integer(0);
    }
    return true;
  }
  dso::Args ctor_args("the constructor",
                      std::span<const std::string>(a.data() + first, a.size() - first));
  Ref<ModuleObject> made;
  bool ok = run_module_code("the constructor", out, [&] {
    made = failure_atomic([&] {
      uint64_t obj = type->construct(store, ctor_args);
      if (store.class_id_of(obj) != type->class_id(store))
        throw std::logic_error(
            fmt::format("the constructor of '{}' made an object of another class", type->name));
      return store.make<ModuleObject>(obj, uint64_t{0});
    });
  });
  if (!ok) return true;
  try {
    objects->bind(a[2], made.offset());
  } catch (...) {
    store.destroy_object(made.offset());  // never reachable
    throw;
  }
  out.integer(1);
  return true;
}

namespace {

void cmd_dso_new(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  if (!new_module_object(s, a, out)) unknown_type(a[1], out);
}

}  // namespace

void add_module_commands(CommandTable::Map& m) {
  using L = CommandTable::Lock;
  // insert: where the coordination objects' DSO.NEW is registered first it
  // stays, and hands module types to new_module_object.
  m.insert({
      {"dso.call", {cmd_dso_call, -4, L::kWrite, 2, 2}},
      {"dso.new", {cmd_dso_new, -3, L::kWrite, 2, 2}},
  });
}

}  // namespace nvobj::dso::cmd
