// Linked into the test binaries that use record logs: they clean inline
// (LogCleaner kOff) whatever the library's default (kAuto, which hands the
// cleaning to a thread while a core is free). Their assertions on fences,
// copies and space per update assume the update does its own cleaning,
// deterministically; the tests of background cleaning set their mode
// themselves (tests/pobjects/log_cleaner_test.cc).
#include "pobjects/log_cleaner.h"

namespace {

// (LogCleaner's mode is a constant-initialised atomic: set before main.)
[[maybe_unused]] const bool kInlineCleaning =
    (nvobj::LogCleaner::set_mode(nvobj::BackgroundCleaning::kOff), true);

}  // namespace
