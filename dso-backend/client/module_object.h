// A proxy of a user-defined object (a module's type, docs/dso.md
// "User-defined objects"): `client.object("kmeans.GlobalCentroids",
// "c").call("update", coords, counts)` sends DSO.CALL and returns the
// method's reply.
//
// Idempotent calls: after idempotent(), every call carries IDEMPOTENT
// <caller-id> <call-id>, the caller id generated once for the handle (or
// given) and the call id increasing with each call. A call whose
// connection fails is sent again with the same ids until it gets a reply
// (ClientOptions::retries), so it is applied once even when the first
// attempt ran and only its reply was lost. The server allows one call in
// flight per caller and object, so a handle in this mode makes its calls
// one at a time (copies of the handle share the caller and the order).
// A worker that restarts and must not apply its calls twice gives its own
// stable caller id and numbers its calls itself (call_with_id: an
// iteration number works; ids only need to increase).
#ifndef NVOBJ_DSO_BACKEND_CLIENT_MODULE_OBJECT_H_
#define NVOBJ_DSO_BACKEND_CLIENT_MODULE_OBJECT_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "dso-backend/client/args.h"
#include "dso-backend/client/value.h"

namespace nvobj::dso {

class Client;

class ModuleObject {
 public:
  ModuleObject(Client& client, std::string type, std::string key);

  const std::string& type() const { return type_; }
  const std::string& key() const { return key_; }

  // DSO.NEW <type> <key> <args...>: true if created, false if an object of
  // this type was there already (left as it is).
  template <typename... A>
  bool create(const A&... args) const {
    return create_args(make_args(args...));
  }

  // DSO.CALL <type> <key> <method> <args...>; idempotent once idempotent()
  // was called.
  template <typename... A>
  Value call(std::string_view method, const A&... args) const {
    return call_args(method, make_args(args...), std::nullopt);
  }

  // The call with this call id (idempotent mode only); later calls without
  // an id go on from call_id + 1.
  template <typename... A>
  Value call_with_id(int64_t call_id, std::string_view method, const A&... args) const {
    return call_args(method, make_args(args...), call_id);
  }

  // Makes this handle's calls idempotent with a generated caller id (16
  // random bytes, hex), call ids from 1.
  ModuleObject& idempotent();
  // ... with this caller id (1 to 256 bytes), call ids from next_call_id.
  ModuleObject& idempotent(std::string caller_id, int64_t next_call_id = 1);
  bool is_idempotent() const { return state_ != nullptr; }
  std::string caller_id() const;
  int64_t next_call_id() const;

  bool create_args(const ArgList& args) const;
  Value call_args(std::string_view method, const ArgList& args,
                  std::optional<int64_t> call_id) const;

 private:
  struct Caller {
    std::mutex mu;  // held across a call: one call in flight per caller
    std::string id;
    int64_t next = 1;
  };
  Client* client_;
  std::string type_;
  std::string key_;
  std::shared_ptr<Caller> state_;  // null: calls are not idempotent
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_CLIENT_MODULE_OBJECT_H_
