#include "dso-backend/client/module_object.h"

#include <random>

#include "dso-backend/client/client.h"

namespace nvobj::dso {

namespace {

// 16 random bytes in hex: unique among the callers of an object (the
// server keeps the last call of each, so two handles must not share one by
// chance).
std::string random_caller_id() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "c-";
  for (int i = 0; i < 4; ++i) {
    uint32_t w = rd();
    for (int j = 0; j < 8; ++j, w >>= 4) id += kHex[w & 15];
  }
  return id;
}

}  // namespace

ModuleObject::ModuleObject(Client& client, std::string type, std::string key)
    : client_(&client), type_(std::move(type)), key_(std::move(key)) {}

ModuleObject& ModuleObject::idempotent() { return idempotent(random_caller_id(), 1); }

ModuleObject& ModuleObject::idempotent(std::string caller_id, int64_t next_call_id) {
  state_ = std::make_shared<Caller>();
  state_->id = std::move(caller_id);
  state_->next = next_call_id;
  return *this;
}

std::string ModuleObject::caller_id() const {
  if (state_ == nullptr) return "";
  std::lock_guard lock(state_->mu);
  return state_->id;
}

int64_t ModuleObject::next_call_id() const {
  if (state_ == nullptr) return 0;
  std::lock_guard lock(state_->mu);
  return state_->next;
}

bool ModuleObject::create_args(const ArgList& args) const {
  ArgList full = make_args("DSO.NEW", type_, key_, args);
  return client_->command(full, Retry::kSafe).as_integer() == 1;
}

Value ModuleObject::call_args(std::string_view method, const ArgList& args,
                              std::optional<int64_t> call_id) const {
  ArgList full = make_args("DSO.CALL", type_, key_, method, args);
  if (state_ == nullptr) {
    if (call_id)
      throw Error(Error::Kind::kProtocol, "",
                  "call_with_id on a handle that is not idempotent (call idempotent() first)");
    return client_->command(full);
  }
  std::lock_guard lock(state_->mu);  // one call in flight per caller
  int64_t id = call_id.value_or(state_->next);
  // The next call gets a new id even if this one fails: this one may have
  // run, and a repeat of its id would be answered from its record.
  state_->next = id + 1;
  append_arg(full, "IDEMPOTENT");
  append_arg(full, state_->id);
  append_arg(full, id);
  return client_->command(full, Retry::kSafe);
}

}  // namespace nvobj::dso
