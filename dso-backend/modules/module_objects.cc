#include "dso-backend/modules/module_objects.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "runtime/error.h"

namespace nvobj::dso {

namespace {

// The call table: `slots` references to CallRecords (0: free slot).
struct CallTableData {
  uint64_t slots;
  uint64_t seq;  // calls recorded so far: orders records for eviction
};

class CallTable : public PObject<CallTable, CallTableData> {
 public:
  static constexpr std::string_view kClassName = "nvobj.dso.CallTable";
  static constexpr RefMap kRefs = with_tail(ref_map<CallTableData>(), TailKind::kRefs,
                                            offsetof(CallTableData, slots), sizeof(CallTableData));
  static constexpr uint32_t kInitialSlots = 8;
  using PObject::PObject;

  uint32_t slots() const { return static_cast<uint32_t>(get(&Data::slots)); }
  uint64_t seq() const { return get(&Data::seq); }
  void set_seq(uint64_t v) { set(&Data::seq, v); }
  uint64_t slot(uint32_t i) const {
    uint64_t off;
    read_tail(uint64_t{i} * 8, &off, 8);
    return off;
  }
  void set_slot(uint32_t i, uint64_t off) { write_tail(uint64_t{i} * 8, &off, 8); }
  void copy_slots_from(const CallTable& from) {
    std::vector<uint64_t> refs(from.slots());
    from.read_tail(0, refs.data(), refs.size() * 8);
    write_tail(0, refs.data(), refs.size() * 8);
  }
};

// One caller's last call: the caller id, then the encoded reply.
struct CallRecordData {
  uint64_t call_id;
  uint64_t seq;
  uint64_t caller_bytes;
  uint64_t bytes;  // tail: caller_bytes + reply bytes
};

class CallRecord : public PObject<CallRecord, CallRecordData> {
 public:
  static constexpr std::string_view kClassName = "nvobj.dso.CallRecord";
  static constexpr RefMap kRefs =
      with_tail(ref_map<CallRecordData>(), TailKind::kBytes, offsetof(CallRecordData, bytes),
                sizeof(CallRecordData));
  using PObject::PObject;
};

// A record is written once, by the block that makes it, and read only after
// that block committed: it is read in place, without a proxy per record.
class RecordView {
 public:
  RecordView(const Store& s, uint64_t off)
      : d_(s.pool().at<CallRecordData>(off)), tail_(reinterpret_cast<const char*>(d_ + 1)) {}
  uint64_t call_id() const { return d_->call_id; }
  uint64_t seq() const { return d_->seq; }
  std::string caller() const { return std::string(tail_, d_->caller_bytes); }
  std::string reply() const {
    return std::string(tail_ + d_->caller_bytes, d_->bytes - d_->caller_bytes);
  }

 private:
  const CallRecordData* d_;
  const char* tail_;
};

// --- reply encoding: a kind byte, then the value ---

void put_u64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }
uint64_t take_u64(std::string_view* in) {
  uint64_t v = 0;
  if (in->size() < 8) throw Error(Status(StatusCode::kCorrupt, "truncated call record reply"));
  std::memcpy(&v, in->data(), 8);
  in->remove_prefix(8);
  return v;
}
std::string_view take_bytes(std::string_view* in) {
  uint64_t n = take_u64(in);
  if (in->size() < n) throw Error(Status(StatusCode::kCorrupt, "truncated call record reply"));
  std::string_view s = in->substr(0, n);
  in->remove_prefix(n);
  return s;
}

}  // namespace

std::string encode_reply(const Reply& r) {
  std::string out(1, static_cast<char>(r.kind()));
  switch (r.kind()) {
    case Reply::Kind::kNil: break;
    case Reply::Kind::kInteger: put_u64(&out, static_cast<uint64_t>(r.integer())); break;
    case Reply::Kind::kDouble: {
      uint64_t bits;
      double d = r.number();
      std::memcpy(&bits, &d, 8);
      put_u64(&out, bits);
      break;
    }
    case Reply::Kind::kBulk:
    case Reply::Kind::kSimple:
    case Reply::Kind::kError:
      put_u64(&out, r.text().size());
      out += r.text();
      break;
    case Reply::Kind::kArray:
      put_u64(&out, r.elements().size());
      for (const std::string& e : r.elements()) {
        put_u64(&out, e.size());
        out += e;
      }
      break;
  }
  return out;
}

Reply decode_reply(std::string_view in) {
  if (in.empty()) throw Error(Status(StatusCode::kCorrupt, "empty call record reply"));
  auto kind = static_cast<Reply::Kind>(in[0]);
  in.remove_prefix(1);
  switch (kind) {
    case Reply::Kind::kNil: return nil_reply();
    case Reply::Kind::kInteger: return integer_reply(static_cast<int64_t>(take_u64(&in)));
    case Reply::Kind::kDouble: {
      uint64_t bits = take_u64(&in);
      double d;
      std::memcpy(&d, &bits, 8);
      return double_reply(d);
    }
    case Reply::Kind::kBulk:
    case Reply::Kind::kSimple:
    case Reply::Kind::kError: return Reply(kind, 0, 0, std::string(take_bytes(&in)), {});
    case Reply::Kind::kArray: {
      std::vector<std::string> elements(take_u64(&in));
      for (std::string& e : elements) e = take_bytes(&in);
      return array_reply(std::move(elements));
    }
  }
  throw Error(Status(StatusCode::kCorrupt, "unknown reply kind in a call record"));
}

void ModuleObject::load_index() {
  if (loaded_) return;
  index_.clear();
  free_slots_.clear();
  if (uint64_t t = get(&Data::calls); t != 0) {
    CallTable& table = store().proxy<CallTable>(t);
    for (uint32_t i = table.slots(); i-- > 0;) {
      uint64_t r = table.slot(i);
      if (r == 0) {
        free_slots_.push_back(i);
        continue;
      }
      RecordView rec(store(), r);
      index_[rec.caller()] = Entry{i, rec.call_id(), rec.seq()};
    }
  }
  loaded_ = true;
}

ModuleObject::Seen ModuleObject::lookup(std::string_view caller, uint64_t call_id,
                                        std::string* reply, uint64_t* last) {
  load_index();
  auto it = index_.find(std::string(caller));
  if (it == index_.end() || call_id > it->second.call_id) return Seen::kNew;
  if (call_id < it->second.call_id) {
    *last = it->second.call_id;
    return Seen::kStale;
  }
  CallTable& table = store().proxy<CallTable>(get(&Data::calls));
  *reply = RecordView(store(), table.slot(it->second.slot)).reply();
  return Seen::kRecorded;
}

ModuleObject::Pending ModuleObject::record(std::string_view caller, uint64_t call_id,
                                           std::string_view reply) {
  load_index();
  Store& s = store();
  Pending p;
  p.caller = std::string(caller);
  p.call_id = call_id;

  uint64_t table_off = get(&Data::calls);
  uint64_t old_record = 0;
  auto it = index_.find(p.caller);
  uint32_t slots = table_off != 0 ? s.proxy<CallTable>(table_off).slots() : 0;
  if (it != index_.end()) {
    p.slot = it->second.slot;
  } else if (!free_slots_.empty()) {
    p.slot = free_slots_.back();
    p.used_free_slot = true;
  } else if (slots < kMaxCallers) {
    // Grow: a table twice the size with the same slots, replacing the old
    // one in this block.
    uint32_t n = std::min<uint32_t>(std::max(slots * 2, CallTable::kInitialSlots), kMaxCallers);
    uint64_t seq = table_off != 0 ? s.proxy<CallTable>(table_off).seq() : 0;
    Ref<CallTable> grown = s.make_with_tail<CallTable>(uint64_t{n} * 8, uint64_t{n}, seq);
    if (table_off != 0) {
      grown->copy_slots_from(s.proxy<CallTable>(table_off));
      s.free_object(table_off);
    }
    set(&Data::calls, grown.offset());
    table_off = grown.offset();
    p.slot = slots;  // the first new slot; the others are free after commit
    p.added_from = slots + 1;
    p.added_to = n;
  } else {
    // Full: forget the caller whose last call is the oldest.
    auto oldest = std::min_element(index_.begin(), index_.end(), [](const auto& a, const auto& b) {
      return a.second.seq < b.second.seq;
    });
    p.slot = oldest->second.slot;
    p.evicted = oldest->first;
  }
  CallTable& table = s.proxy<CallTable>(table_off);
  old_record = table.slot(p.slot);
  p.seq = table.seq() + 1;
  uint64_t bytes = caller.size() + reply.size();
  Ref<CallRecord> rec =
      s.make_with_tail<CallRecord>(bytes, call_id, p.seq, uint64_t{caller.size()}, bytes);
  char* tail = s.pool().at<char>(rec.offset()) + sizeof(CallRecordData);
  s.write(tail, caller.data(), caller.size());
  s.write(tail + caller.size(), reply.data(), reply.size());
  table.set_slot(p.slot, rec.offset());
  table.set_seq(p.seq);
  if (old_record != 0) s.free_object(old_record);
  return p;
}

void ModuleObject::commit(const Pending& p) {
  if (!p.evicted.empty()) index_.erase(p.evicted);
  if (p.used_free_slot) free_slots_.pop_back();
  for (uint32_t i = p.added_to; i-- > p.added_from;) free_slots_.push_back(i);
  index_[p.caller] = Entry{p.slot, p.call_id, p.seq};
}

void ModuleObject::destroy(Store& s, uint64_t offset) {
  ModuleObjectData d = *s.pool().at<ModuleObjectData>(offset);
  if (d.calls != 0) {
    const auto* t = s.pool().at<CallTableData>(d.calls);
    const auto* refs = reinterpret_cast<const uint64_t*>(t + 1);
    for (uint64_t i = 0; i < t->slots; ++i)
      if (refs[i] != 0) s.free_detached(refs[i]);
    s.free_detached(d.calls);
  }
  if (d.object != 0) s.destroy_object(d.object);
  s.free_detached(offset);
}

void register_module_object_classes() {
  static std::once_flag once;
  std::call_once(
      once, [] { Store::register_destroyer(ModuleObject::kClassName, &ModuleObject::destroy); });
}

std::string module_type_of(Store& s, uint64_t module_object) {
  uint64_t object = s.proxy<ModuleObject>(module_object).object();
  const ClassRecord* r = s.classes().find(s.class_id_of(object));
  return r != nullptr ? r->name : std::string("unknown");
}

}  // namespace nvobj::dso
