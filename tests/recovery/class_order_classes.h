// Classes shared by ClassOrderTest and its helper program.
#ifndef NVOBJ_TESTS_RECOVERY_CLASS_ORDER_CLASSES_H_
#define NVOBJ_TESTS_RECOVERY_CLASS_ORDER_CLASSES_H_

#include <cstdint>
#include <string_view>

#include "runtime/proxy.h"

namespace nvobj::class_order {

struct AlphaData {
  uint64_t a;
};
class Alpha : public PObject<Alpha, AlphaData> {
 public:
  static constexpr std::string_view kClassName = "order.Alpha";
  static constexpr RefMap kRefs = ref_map<AlphaData>();
  using PObject::PObject;
};

struct BetaData {
  uint64_t b1, b2;
};
class Beta : public PObject<Beta, BetaData> {
 public:
  static constexpr std::string_view kClassName = "order.Beta";
  static constexpr RefMap kRefs = ref_map<BetaData>();
  using PObject::PObject;
};

struct GammaData {
  uint64_t g;
};
class Gamma : public PObject<Gamma, GammaData> {
 public:
  static constexpr std::string_view kClassName = "order.Gamma";
  static constexpr RefMap kRefs = ref_map<GammaData>();
  using PObject::PObject;
};

}  // namespace nvobj::class_order

#endif  // NVOBJ_TESTS_RECOVERY_CLASS_ORDER_CLASSES_H_
