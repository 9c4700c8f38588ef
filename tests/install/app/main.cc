// Uses only installed headers: a persistent object in a store, found again
// by its root name after a reopen (the object model), and a durable map.
#include <cstdio>

#include <nvobj/pobjects/phashmap.h>
#include <nvobj/recovery/store_open.h>
#include <nvobj/runtime/proxy.h>

struct NoteData {
  uint64_t number;
  uint64_t twice;
};

class Note : public nvobj::PObject<Note, NoteData> {
 public:
  static constexpr std::string_view kClassName = "install.Note";
  static constexpr nvobj::RefMap kRefs = nvobj::ref_map<NoteData>();
  using PObject::PObject;
  uint64_t number() const { return get(&Data::number); }
};

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  {
    nvobj::StoreOptions o;
    o.create.size = 4 << 20;
    auto store = nvobj::create_store(argv[1], o);
    if (!store) {
      std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
      return 1;
    }
    nvobj::failure_atomic(
        [&] { (*store)->set_root("note", (*store)->make<Note>(uint64_t{42}, uint64_t{84})); });
    auto map = nvobj::PHashMap::create(**store);
    (*store)->set_root("map", map);
    map->put("key", "value");
  }
  auto store = nvobj::open_store(argv[1]);
  if (!store) return 1;
  auto note = (*store)->root<Note>("note");
  if (!note || note->number() != 42 || note->read().twice != 84) return 1;
  if ((*store)->root<nvobj::PHashMap>("map")->get("key") != "value") return 1;
  std::printf("install-app ok\n");
  return 0;
}
