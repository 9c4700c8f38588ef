// Uses only installed headers: create a pool, persist a string, reopen it.
#include <cstdio>
#include <cstring>

#include <nvobj/runtime/pool.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  {
    nvobj::CreateOptions o;
    o.size = 1 << 20;
    auto pool = nvobj::Pool::create(argv[1], o);
    if (!pool) {
      std::fprintf(stderr, "%s\n", pool.status().to_string().c_str());
      return 1;
    }
    char* p = (*pool)->at<char>((*pool)->data_offset());
    std::strcpy(p, "installed");
    (*pool)->persister().persist(p, 10);
  }
  auto pool = nvobj::Pool::open(argv[1], {});
  if (!pool || std::strcmp((*pool)->at<char>((*pool)->data_offset()), "installed") != 0) return 1;
  std::printf("install-app ok\n");
  return 0;
}
