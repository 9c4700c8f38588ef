#include "tests/crash/simulator.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace nvobj::crash {
namespace {

uint64_t file_size(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("stat " + path);
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

PowerFailureSimulator::PowerFailureSimulator(std::string working_path, std::string shadow_path)
    : working_path_(std::move(working_path)), shadow_path_(std::move(shadow_path)) {
  int in = ::open(working_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw std::runtime_error("open " + working_path_);
  shadow_fd_ = ::open(shadow_path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (shadow_fd_ < 0) throw std::runtime_error("create " + shadow_path_);
  uint64_t size = file_size(working_path_);
  map_shadow(size);
  for (uint64_t off = 0; off < size;) {
    ssize_t n = ::pread(in, shadow_ + off, size - off, static_cast<off_t>(off));
    if (n <= 0) throw std::runtime_error("read " + working_path_);
    off += static_cast<uint64_t>(n);
  }
  ::close(in);
}

PowerFailureSimulator::~PowerFailureSimulator() {
  if (shadow_ != nullptr) ::munmap(shadow_, shadow_size_);
  if (shadow_fd_ >= 0) ::close(shadow_fd_);
  ::unlink(shadow_path_.c_str());
}

void PowerFailureSimulator::map_shadow(uint64_t size) {
  if (size <= shadow_size_) return;
  if (::ftruncate(shadow_fd_, static_cast<off_t>(size)) != 0)
    throw std::runtime_error("grow " + shadow_path_);
  if (shadow_ != nullptr) ::munmap(shadow_, shadow_size_);
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, shadow_fd_, 0);
  if (p == MAP_FAILED) throw std::runtime_error("map " + shadow_path_);
  shadow_ = static_cast<char*>(p);
  shadow_size_ = size;
}

void PowerFailureSimulator::sync_size() { map_shadow(file_size(working_path_)); }

void PowerFailureSimulator::on_writeback(const void* addr, size_t len) {
  if (working_ == nullptr || len == 0) return;
  auto start = static_cast<uint64_t>(static_cast<const char*>(addr) - working_);
  uint64_t first = start / kCacheLine * kCacheLine;
  for (uint64_t off = first; off < start + len; off += kCacheLine) {
    Line& l = pending_[off];
    std::memcpy(l.data(), working_ + off, kCacheLine);
  }
}

void PowerFailureSimulator::on_fence() {
  ++fences_;
  if (on_crash_point_) on_crash_point_(fences_);
  if (pending_.empty()) return;
  map_shadow(pending_.rbegin()->first + kCacheLine);
  for (const auto& [off, line] : pending_) std::memcpy(shadow_ + off, line.data(), kCacheLine);
  pending_.clear();
}

std::vector<CandidateLine> PowerFailureSimulator::candidates(bool include_pending,
                                                             bool include_dirty) {
  sync_size();
  std::vector<CandidateLine> out;
  std::map<uint64_t, size_t> index;
  if (include_pending) {
    for (const auto& [off, line] : pending_) {
      if (std::memcmp(shadow_ + off, line.data(), kCacheLine) == 0) continue;
      index[off] = out.size();
      out.push_back({off, {line}});
    }
  }
  if (include_dirty && working_ != nullptr) {
    // Compare page by page first: most of a pool is unchanged.
    constexpr uint64_t kPage = 4096;
    uint64_t size = shadow_size_;
    for (uint64_t page = 0; page < size; page += kPage) {
      uint64_t n = std::min(kPage, size - page);
      if (std::memcmp(shadow_ + page, working_ + page, n) == 0) continue;
      for (uint64_t off = page; off < page + n; off += kCacheLine) {
        const char* now = working_ + off;
        if (std::memcmp(shadow_ + off, now, kCacheLine) == 0) continue;
        auto p = pending_.find(off);
        if (p != pending_.end() && std::memcmp(p->second.data(), now, kCacheLine) == 0) continue;
        Line l;
        std::memcpy(l.data(), now, kCacheLine);
        auto it = index.find(off);
        if (it != index.end()) {
          out[it->second].versions.push_back(l);
        } else {
          index[off] = out.size();
          out.push_back({off, {l}});
        }
      }
    }
  }
  return out;
}

void PowerFailureSimulator::apply(const std::vector<Choice>& choices) {
  for (const Choice& c : choices) {
    Line old;
    std::memcpy(old.data(), shadow_ + c.offset, kCacheLine);
    undo_.emplace_back(c.offset, old);
    std::memcpy(shadow_ + c.offset, c.content.data(), kCacheLine);
  }
}

void PowerFailureSimulator::revert() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it)
    std::memcpy(shadow_ + it->first, it->second.data(), kCacheLine);
  undo_.clear();
}

}  // namespace nvobj::crash
