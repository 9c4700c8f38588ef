#include "dso-backend/modules/module_registry.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>

#include <fmt/format.h>

#include "runtime/class_table.h"

namespace nvobj::dso {

namespace {

// The server's own facts, expanded here as the module's are in its entry
// point (module_api.h).
const AbiFact kServerFacts[] = {NVOBJ_DSO_ABI_FACTS};

Status refuse(StatusCode code, std::string_view path, std::string_view why) {
  return Status(code, fmt::format("module {}: {}", path, why));
}

// dlopen's message for a file that is not an ELF shared object is "invalid
// ELF header" or "file too short": say plainly what is wrong instead, and
// keep dlopen's words for real load failures (a missing symbol, a
// dependency).
Status check_elf_shared_object(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return status_from_errno(errno, fmt::format("module {}", path));
  Elf64_Ehdr h{};
  ssize_t n = ::pread(fd, &h, sizeof h, 0);
  ::close(fd);
  if (n < static_cast<ssize_t>(sizeof h) || std::memcmp(h.e_ident, ELFMAG, SELFMAG) != 0)
    return refuse(StatusCode::kInvalidArgument, path, "not a shared library (no ELF header)");
  if (h.e_type != ET_DYN)
    return refuse(StatusCode::kInvalidArgument, path,
                  fmt::format("not a shared library (ELF type {}, not ET_DYN)", h.e_type));
  return Status::ok();
}

// Collects the types a registration function adds.
class Collector final : public ModuleRegistrar {
 public:
  ModuleType& new_type() override { return *types.emplace_back(std::make_unique<ModuleType>()); }
  std::vector<std::unique_ptr<ModuleType>> types;
};

}  // namespace

std::string check_type_name(std::string_view name) {
  if (name.size() < 3 || name.size() >= kMaxClassNameLength)
    return fmt::format("must be 3 to {} bytes", kMaxClassNameLength - 1);
  if (!std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c <= '~'; }))
    return "must be printable ASCII without spaces";
  size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size())
    return "must be <namespace>.<Name> (e.g. kmeans.GlobalCentroids)";
  if (name.starts_with("nvobj.")) return "the namespace 'nvobj.' is nvobj's own";
  return {};
}

ModuleRegistry& module_registry() {
  static ModuleRegistry registry;
  return registry;
}

const ModuleType* ModuleRegistry::find(std::string_view type) const {
  auto it = types_.find(type);
  return it == types_.end() ? nullptr : it->second.get();
}

Status ModuleRegistry::add(std::string_view module_name, const RegisterFn& fn) {
  return add_checked(module_name, {}, fn);
}

Status ModuleRegistry::load(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return refuse(StatusCode::kNotFound, path, "no such file");
    return status_from_errno(errno, fmt::format("module {}", path));
  }
  if (!S_ISREG(st.st_mode)) return refuse(StatusCode::kInvalidArgument, path, "not a regular file");
  if (Status s = check_elf_shared_object(path); !s) return s;

  // RTLD_LOCAL: a module's own symbols stay its own (two modules may define
  // the same helper); its undefined runtime symbols resolve to the server
  // executable, which exports them. Modules are never unloaded: the server
  // keeps their functions and their classes' proxies until it exits.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = ::dlerror();
    return refuse(StatusCode::kInvalidArgument, path,
                  fmt::format("cannot load: {}", err != nullptr ? err : "dlopen failed"));
  }
  using Entry = const ModuleInfo* (*)();
  auto entry = reinterpret_cast<Entry>(::dlsym(handle, kModuleEntryPoint));
  if (entry == nullptr)
    return refuse(StatusCode::kInvalidArgument, path,
                  fmt::format("not an nvobj-dso module: it does not export {}() (define it with "
                              "NVOBJ_DSO_MODULE, dso-backend/modules/module_api.h)",
                              kModuleEntryPoint));
  const ModuleInfo* info = entry();
  // Only the first three fields mean the same in every ABI version.
  if (info == nullptr || info->magic != kModuleMagic)
    return refuse(
        StatusCode::kInvalidArgument, path,
        fmt::format("not an nvobj-dso module: {}() returned no module info", kModuleEntryPoint));
  if (info->abi_version != kModuleAbiVersion || info->info_size != sizeof(ModuleInfo))
    return refuse(StatusCode::kVersionMismatch, path,
                  fmt::format("built for module ABI version {}, this server loads version {}: "
                              "rebuild it against this server's nvobj headers",
                              info->abi_version, kModuleAbiVersion));
  if (std::strcmp(info->nvobj_version, NVOBJ_VERSION_STRING) != 0)
    return refuse(StatusCode::kVersionMismatch, path,
                  fmt::format("built against nvobj {}, this server is nvobj {}: rebuild it "
                              "against this server's nvobj headers",
                              info->nvobj_version, NVOBJ_VERSION_STRING));
  for (const AbiFact& mine : kServerFacts) {
    const AbiFact* theirs = nullptr;
    for (uint32_t i = 0; i < info->fact_count; ++i)
      if (std::strcmp(info->facts[i].name, mine.name) == 0) theirs = &info->facts[i];
    if (theirs == nullptr || theirs->value != mine.value)
      return refuse(
          StatusCode::kVersionMismatch, path,
          fmt::format("ABI mismatch: {} is {} in the module ({}), {} in this server ({}): rebuild "
                      "it with the same compiler settings against this server's nvobj headers",
                      mine.name, theirs != nullptr ? std::to_string(theirs->value) : "missing",
                      info->compiler, mine.value, __VERSION__));
  }
  const void* server_probes[] = NVOBJ_DSO_MODULE_PROBES;
  for (size_t i = 0; i < std::size(server_probes); ++i)
    if (info->probes[i] != server_probes[i])
      return refuse(StatusCode::kInvalidArgument, path,
                    "it carries its own copy of the nvobj runtime: build modules with the "
                    "installed headers only (nvobj::dso_module) and link no nvobj library; the "
                    "server provides the runtime");
  return add_checked(info->name, path, info->register_types);
}

Status ModuleRegistry::add_checked(std::string_view module_name, std::string_view path,
                                   const RegisterFn& fn) {
  std::string where = path.empty() ? fmt::format("module {}", module_name)
                                   : fmt::format("module {} ({})", module_name, path);
  auto fail = [&](std::string_view why) {
    return Status(StatusCode::kInvalidArgument, fmt::format("{}: {}", where, why));
  };
  Collector c;
  try {
    fn(c);
  } catch (const std::exception& e) {
    return fail(fmt::format("registration failed: {}", e.what()));
  } catch (...) {
    return fail("registration failed (a non-standard exception)");
  }
  if (c.types.empty()) return fail("it registers no type");
  std::map<std::string_view, bool> seen;
  for (const auto& t : c.types) {
    if (std::string why = check_type_name(t->name); !why.empty())
      return fail(fmt::format("type name '{}' {}", t->name, why));
    if (!seen.emplace(t->name, true).second)
      return fail(fmt::format("type '{}' is registered twice", t->name));
    if (auto it = owner_.find(t->name); it != owner_.end()) {
      const Module& other = modules_[it->second];
      return fail(fmt::format("duplicate type name '{}': already defined by module {}{}", t->name,
                              other.name, other.path.empty() ? "" : " (" + other.path + ")"));
    }
    if (!t->class_id || !t->construct) return fail(fmt::format("type '{}' is incomplete", t->name));
    if (t->methods.empty()) return fail(fmt::format("type '{}' has no method", t->name));
    for (const auto& [name, m] : t->methods)
      if (name.empty() || !m) return fail(fmt::format("type '{}' has an empty method", t->name));
  }
  Module m{std::string(module_name), std::string(path), {}};
  for (auto& t : c.types) {
    m.types.push_back(t->name);
    owner_.emplace(t->name, modules_.size());
    std::string name = t->name;
    types_.emplace(std::move(name), std::move(t));
  }
  modules_.push_back(std::move(m));
  return Status::ok();
}

}  // namespace nvobj::dso
