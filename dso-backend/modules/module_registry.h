// ModuleRegistry: the user-defined object types of this process, added by
// the modules nvobj-dso loads at start (--load-module). Modules are loaded
// before the server serves and never unloaded, so lookups need no lock.
#ifndef NVOBJ_DSO_BACKEND_MODULES_MODULE_REGISTRY_H_
#define NVOBJ_DSO_BACKEND_MODULES_MODULE_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dso-backend/modules/module_api.h"
#include "runtime/status.h"

namespace nvobj::dso {

class ModuleRegistry {
 public:
  struct Module {
    std::string name;
    std::string path;  // empty for types linked into the program
    std::vector<std::string> types;
  };
  using RegisterFn = std::function<void(ModuleRegistrar&)>;

  // Loads the shared library at `path` (dlopen RTLD_NOW | RTLD_LOCAL),
  // checks that it is a module built for this server (entry point, ABI
  // version, nvobj version, ABI facts, no private runtime) and adds its
  // types. On error nothing is added and the message names the file.
  Status load(const std::string& path);
  // Adds the types `fn` registers, checked as a loaded module's are (tests,
  // types linked into the program).
  Status add(std::string_view module_name, const RegisterFn& fn);

  const ModuleType* find(std::string_view type) const;
  const std::vector<Module>& modules() const { return modules_; }

 private:
  Status add_checked(std::string_view module_name, std::string_view path, const RegisterFn& fn);

  std::vector<Module> modules_;
  std::map<std::string, std::unique_ptr<ModuleType>, std::less<>> types_;
  std::map<std::string, size_t, std::less<>> owner_;  // type -> index in modules_
};

// The process's registry (dlopen is process-wide too).
ModuleRegistry& module_registry();

// Whether `name` may name a module type: "<namespace>.<Name>", 3 to 63
// printable bytes without spaces, not in nvobj's own "nvobj." namespace.
// Empty when it may, else why not.
std::string check_type_name(std::string_view name);

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_MODULES_MODULE_REGISTRY_H_
