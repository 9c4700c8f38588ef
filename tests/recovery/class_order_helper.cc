// A second program for ClassOrderTest: it uses the same classes as the test
// binary, in an order given on the command line, so that class ids are
// assigned by one program and read by another that registers differently.
//
//   class_order_helper POOL create   new pool; makes an Alpha, then a Beta
//   class_order_helper POOL reopen   makes a Gamma, then a Beta, then an Alpha
//                                    (registration order reversed), checks
//                                    the objects the first run left
#include <cstdio>
#include <cstring>

#include "recovery/store_open.h"
#include "tests/recovery/class_order_classes.h"

int main(int argc, char** argv) {
  using namespace nvobj;
  using namespace nvobj::class_order;
  if (argc != 3) return 2;
  std::string path = argv[1];
  bool create = std::strcmp(argv[2], "create") == 0;
  StoreOptions o;
  o.create.size = 8 << 20;
  o.create.mode = Mode::kEmulated;
  auto store = create ? create_store(path, o) : open_store(path, o);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    return 1;
  }
  Store& s = **store;
  try {
    if (create) {
      s.set_root("alpha", s.make<Alpha>(uint64_t{1}));
      s.set_root("beta", s.make<Beta>(uint64_t{2}, uint64_t{3}));
    } else {
      s.set_root("gamma", s.make<Gamma>(uint64_t{4}));
      s.set_root("beta2", s.make<Beta>(uint64_t{5}, uint64_t{6}));
      s.set_root("alpha2", s.make<Alpha>(uint64_t{7}));
      if (s.root<Alpha>("alpha")->read().a != 1 || s.root<Beta>("beta")->read().b2 != 3) {
        std::fprintf(stderr, "objects of the first run read back wrong\n");
        return 1;
      }
    }
    std::printf("Alpha=%u Beta=%u Gamma=%u\n", s.class_id<Alpha>(), s.class_id<Beta>(),
                create ? 0u : s.class_id<Gamma>());
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
