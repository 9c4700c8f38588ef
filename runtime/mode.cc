#include "runtime/mode.h"

namespace nvobj {

std::string_view mode_name(Mode m) {
  switch (m) {
    case Mode::kAuto: return "auto";
    case Mode::kDax: return "dax";
    case Mode::kEmulated: return "emulated";
    case Mode::kMsync: return "msync";
  }
  return "unknown";
}

std::optional<Mode> parse_mode(std::string_view s) {
  for (Mode m : {Mode::kAuto, Mode::kDax, Mode::kEmulated, Mode::kMsync})
    if (s == mode_name(m)) return m;
  return std::nullopt;
}

std::string_view mode_durability(Mode m) {
  switch (m) {
    case Mode::kDax: return "durable against power failure (persistent memory, MAP_SYNC)";
    case Mode::kEmulated:
      return "survives process crashes only, NOT power failure (ordinary memory-backed mapping)";
    case Mode::kMsync: return "durable against power failure via msync (page granularity, slow)";
    case Mode::kAuto: return "resolved at open";
  }
  return "unknown";
}

}  // namespace nvobj
