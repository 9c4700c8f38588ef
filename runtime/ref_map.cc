#include "runtime/ref_map.h"

#include <fmt/format.h>

namespace nvobj {

std::string RefMap::describe() const {
  std::string refs;
  for (uint32_t w = 0; w < kMaxFixedWords; ++w) {
    if (!is_ref_word(w)) continue;
    if (!refs.empty()) refs += ", ";
    refs += std::to_string(w * 8);
  }
  std::string s = fmt::format("{} bytes, refs at {{{}}}", layout_size, refs);
  if (tail_kind == TailKind::kRefs)
    s += fmt::format(", tail of refs at {} (count at {})", tail_offset, tail_count_offset);
  if (tail_kind == TailKind::kBytes)
    s += fmt::format(", tail of bytes at {} (count at {})", tail_offset, tail_count_offset);
  if (tail_kind == TailKind::kRecords)
    s += fmt::format(", tail of records at {} (bytes at {}, nonce at {})", tail_offset,
                     tail_count_offset, tail_offset - 8);
  return s;
}

std::string RefMap::validate() const {
  for (uint32_t w = 0; w < kMaxFixedWords; ++w)
    if (is_ref_word(w) && (w + 1) * 8 > layout_size)
      return fmt::format("reference word at {} lies outside the {}-byte layout", w * 8,
                         layout_size);
  switch (tail_kind) {
    case TailKind::kNone: return "";
    case TailKind::kRefs:
    case TailKind::kBytes:
    case TailKind::kRecords:
      if (tail_count_offset % 8 != 0 || tail_count_offset + 8 > layout_size)
        return "tail count is not an aligned word of the layout";
      if (tail_offset < layout_size || (tail_kind != TailKind::kBytes && tail_offset % 8 != 0))
        return "tail does not start after the layout";
      if (tail_kind == TailKind::kRecords &&
          (tail_offset < 16 || tail_offset - 8 == tail_count_offset ||
           tail_offset - 8 + 8 > layout_size))
        return "record tail has no nonce word just before it";
      return "";
  }
  return fmt::format("unknown tail kind {}", static_cast<uint32_t>(tail_kind));
}

}  // namespace nvobj
