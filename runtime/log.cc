#include "runtime/log.h"

#include <cstdlib>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace nvobj {

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::get("nvobj");
    if (!l) l = spdlog::stderr_color_mt("nvobj");
    if (const char* env = std::getenv("NVOBJ_LOG_LEVEL"))
      l->set_level(spdlog::level::from_str(env));
    return l;
  }();
  return *logger;
}

bool set_log_level(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") return false;
  log().set_level(lvl);
  return true;
}

}  // namespace nvobj
