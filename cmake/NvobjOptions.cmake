# Warning and sanitizer flags shared by every nvobj target.
add_library(nvobj_build_flags INTERFACE)
target_compile_options(nvobj_build_flags INTERFACE -Wall -Wextra -Wpedantic
                       -Wno-missing-field-initializers)
if(NVOBJ_WERROR)
  target_compile_options(nvobj_build_flags INTERFACE -Werror)
endif()

if(NVOBJ_SANITIZE STREQUAL "asan")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(NVOBJ_SANITIZE STREQUAL "tsan")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT NVOBJ_SANITIZE STREQUAL "")
  message(FATAL_ERROR "NVOBJ_SANITIZE must be '', 'asan' or 'tsan'")
endif()

# clwb/clflushopt and crc32 are selected at run time (cpuid); nothing here
# assumes the build machine's CPU.
