// The runtime's logger ("nvobj", spdlog). Libraries log through it; programs
// may change its level or sinks. Kept out of public headers' dependencies.
#ifndef NVOBJ_RUNTIME_LOG_H_
#define NVOBJ_RUNTIME_LOG_H_

#include <spdlog/spdlog.h>

namespace nvobj {

spdlog::logger& log();
// Accepts spdlog level names: trace, debug, info, warn, error, critical, off.
bool set_log_level(std::string_view level);

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_LOG_H_
