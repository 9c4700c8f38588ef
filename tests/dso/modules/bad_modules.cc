// Shared libraries nvobj-dso must refuse to load (dso_module_test), one per
// NVOBJ_BAD_MODULE value:
//   no_entry     exports no nvobj_dso_module
//   abi          says module ABI version 2
//   facts        reports a different sizeof(nvobj::Store)
//   no_types     registers nothing
//   bad_name     registers a type named without a namespace
//   throws       throws while registering
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "dso-backend/modules/module_api.h"

namespace {

struct Data {
  int64_t v;
};

class [[maybe_unused]] Plain : public nvobj::PObject<Plain, Data> {
 public:
  static constexpr std::string_view kClassName = "Plain";
  static constexpr nvobj::RefMap kRefs = nvobj::ref_map<Data>();
  using PObject::PObject;
};

[[maybe_unused]] nvobj::dso::Reply nothing(Plain&, const nvobj::dso::Args&) {
  return nvobj::dso::nil_reply();
}

}  // namespace

#if NVOBJ_BAD_MODULE_no_entry

extern "C" int not_a_module_entry() { return 1; }

#elif NVOBJ_BAD_MODULE_abi || NVOBJ_BAD_MODULE_facts

namespace {
void register_nothing(nvobj::dso::ModuleRegistrar&) {}
nvobj::dso::AbiFact facts[] = {NVOBJ_DSO_ABI_FACTS};
}  // namespace

extern "C" __attribute__((visibility("default"))) const nvobj::dso::ModuleInfo* nvobj_dso_module() {
#if NVOBJ_BAD_MODULE_abi
  constexpr uint32_t kAbi = 2;
#else
  constexpr uint32_t kAbi = nvobj::dso::kModuleAbiVersion;
  for (auto& f : facts)
    if (std::string_view(f.name) == "sizeof(nvobj::Store)") f.value = 8;
#endif
  static const nvobj::dso::ModuleInfo info = {nvobj::dso::kModuleMagic,
                                              kAbi,
                                              sizeof(nvobj::dso::ModuleInfo),
                                              sizeof(facts) / sizeof(facts[0]),
                                              "bad",
                                              NVOBJ_VERSION_STRING,
                                              __VERSION__,
                                              facts,
                                              NVOBJ_DSO_MODULE_PROBES,
                                              &register_nothing};
  return &info;
}

#elif NVOBJ_BAD_MODULE_no_types

NVOBJ_DSO_MODULE(no_types, registrar) { (void)registrar; }

#elif NVOBJ_BAD_MODULE_bad_name

NVOBJ_DSO_MODULE(bad_name, registrar) { registrar.add_type<Plain>().method("m", &nothing); }

#elif NVOBJ_BAD_MODULE_throws

NVOBJ_DSO_MODULE(throws, registrar) {
  (void)registrar;
  throw std::runtime_error("cannot register today");
}

#else
#error "define NVOBJ_BAD_MODULE_<kind>=1"
#endif
