#include "tests/fakes/fake_os.h"

#include <errno.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>

namespace {

void* MapAligned(size_t bytes, size_t align, int prot) {
  if (align < HZ3_PAGE_SIZE) align = HZ3_PAGE_SIZE;
  size_t span = bytes + align;
  void* raw = mmap(nullptr, span, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (start + align - 1) & ~(uintptr_t)(align - 1);
  if (aligned > start) munmap(raw, aligned - start);
  uintptr_t end = start + span, want_end = aligned + bytes;
  if (end > want_end) munmap(reinterpret_cast<void*>(want_end), end - want_end);
  return reinterpret_cast<void*>(aligned);
}

}  // namespace

FakeOs::FakeOs() {
  ops_.ctx = this;
  ops_.claim = &FakeOs::Claim;
  ops_.map_at = &FakeOs::MapAt;
  ops_.release = &FakeOs::Release;
  ops_.dontneed = &FakeOs::Dontneed;
  ops_.dontneed_many = &FakeOs::DontneedMany;
  ops_.map = &FakeOs::Map;
  ops_.remap = &FakeOs::Remap;
  ops_.now_ns = &FakeOs::NowNs;
}

FakeOs::~FakeOs() {
  for (const Range& r : live_mappings_) munmap(reinterpret_cast<void*>(r.addr), r.bytes);
}

size_t FakeOs::dontneed_pages() const {
  size_t pages = 0;
  for (const Range& r : dontneed_) pages += r.bytes / HZ3_PAGE_SIZE;
  return pages;
}

void FakeOs::ClearRecords() {
  std::lock_guard<std::mutex> g(mu_);
  dontneed_.clear();
  dontneed_syscalls_ = 0;
  map_ats_.clear();
}

bool FakeOs::ShouldFail(long* after) {
  if (*after < 0) return false;
  if (*after == 0) return true;
  --*after;
  return false;
}

// A range that is free now (probed, then given back) where nothing else goes, as the real
// claim does, but in a region of its own (48 TiB up), so that box tests and the real OS layer
// never claim the same range; where that region is refused (a sanitizer's layout), a range the
// kernel chooses.
void* FakeOs::Claim(void* ctx, size_t bytes, size_t align) {
  static std::atomic<uintptr_t> next{uintptr_t{48} << 40};
  FakeOs* self = static_cast<FakeOs*>(ctx);
  std::lock_guard<std::mutex> g(self->mu_);
  self->claim_calls_++;
  if (ShouldFail(&self->claim_fail_after_)) {
    errno = ENOMEM;
    return nullptr;
  }
  uintptr_t step = (bytes + (uintptr_t{1} << 30) - 1) & ~((uintptr_t{1} << 30) - 1);
  uintptr_t at = next.fetch_add(step);
  void* p = mmap(reinterpret_cast<void*>(at), bytes, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (p != MAP_FAILED) munmap(p, bytes);
  if (p == reinterpret_cast<void*>(at) && at % align == 0) return p;
  p = MapAligned(bytes, align, PROT_NONE);
  if (p != nullptr) munmap(p, bytes);
  return p;
}

int FakeOs::MapAt(void* ctx, void* addr, size_t bytes) {
  FakeOs* self = static_cast<FakeOs*>(ctx);
  std::lock_guard<std::mutex> g(self->mu_);
  self->map_at_calls_++;
  if (ShouldFail(&self->map_at_fail_after_)) return ENOMEM;
  void* p = mmap(addr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) return errno;
  if (p != addr) {
    munmap(p, bytes);
    return EEXIST;
  }
  self->map_at_bytes_ += bytes;
  self->map_ats_.push_back({reinterpret_cast<uintptr_t>(addr), bytes});
  self->live_mappings_.push_back({reinterpret_cast<uintptr_t>(addr), bytes});
  return 0;
}

bool FakeOs::Occupy(uintptr_t addr, size_t bytes) {
  void* p = mmap(reinterpret_cast<void*>(addr), bytes, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) return false;
  if (p != reinterpret_cast<void*>(addr)) {
    munmap(p, bytes);
    return false;
  }
  return true;
}

void FakeOs::Vacate(uintptr_t addr, size_t bytes) { munmap(reinterpret_cast<void*>(addr), bytes); }

// Gives back a range the box mapped (with map, or with one or more map_at calls inside it).
int FakeOs::Release(void* ctx, void* addr, size_t bytes) {
  FakeOs* self = static_cast<FakeOs*>(ctx);
  std::lock_guard<std::mutex> g(self->mu_);
  self->release_calls_++;
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  auto inside = [&](const Range& r) { return r.addr >= a && r.addr + r.bytes <= a + bytes; };
  auto first = std::find_if(self->live_mappings_.begin(), self->live_mappings_.end(), inside);
  if (first == self->live_mappings_.end()) return EINVAL;  // the box released what it never got
  for (const Range& r : self->live_mappings_)
    if (r.from_map && inside(r)) self->mapped_live_ -= r.bytes;
  self->live_mappings_.erase(
      std::remove_if(self->live_mappings_.begin(), self->live_mappings_.end(), inside),
      self->live_mappings_.end());
  return munmap(addr, bytes) == 0 ? 0 : errno;
}

int FakeOs::Dontneed(void* ctx, void* addr, size_t bytes) {
  FakeOs* self = static_cast<FakeOs*>(ctx);
  std::lock_guard<std::mutex> g(self->mu_);
  self->dontneed_.push_back({reinterpret_cast<uintptr_t>(addr), bytes});
  self->dontneed_syscalls_++;
  if (self->dontneed_fails_) return EINVAL;
  return madvise(addr, bytes, MADV_DONTNEED) == 0 ? 0 : errno;
}

int FakeOs::DontneedMany(void* ctx, const hz3_os_range_t* ranges, uint32_t n) {
  FakeOs* self = static_cast<FakeOs*>(ctx);
  std::lock_guard<std::mutex> g(self->mu_);
  if (n > 0) self->dontneed_syscalls_++;
  if (self->dontneed_fails_) return n > 0 ? EINVAL : 0;
  int err = 0;
  for (uint32_t i = 0; i < n; i++) {
    self->dontneed_.push_back({reinterpret_cast<uintptr_t>(ranges[i].addr), ranges[i].bytes});
    if (madvise(ranges[i].addr, ranges[i].bytes, MADV_DONTNEED) != 0 && err == 0) err = errno;
  }
  return err;
}

void* FakeOs::Map(void* ctx, size_t bytes, size_t align) {
  FakeOs* self = static_cast<FakeOs*>(ctx);
  std::lock_guard<std::mutex> g(self->mu_);
  self->map_calls_++;
  if (ShouldFail(&self->map_fail_after_)) {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = MapAligned(bytes, align, PROT_READ | PROT_WRITE);
  if (p != nullptr) {
    self->live_mappings_.push_back({reinterpret_cast<uintptr_t>(p), bytes, true});
    self->mapped_live_ += bytes;
  }
  return p;
}

void* FakeOs::Remap(void* ctx, void* addr, size_t old_bytes, size_t new_bytes) {
  FakeOs* self = static_cast<FakeOs*>(ctx);
  std::lock_guard<std::mutex> g(self->mu_);
  self->remap_calls_++;
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  auto it = std::find_if(self->live_mappings_.begin(), self->live_mappings_.end(),
                         [&](const Range& r) { return r.addr == a && r.bytes == old_bytes; });
  if (it == self->live_mappings_.end() || ShouldFail(&self->map_fail_after_)) {
    errno = it == self->live_mappings_.end() ? EINVAL : ENOMEM;
    return nullptr;
  }
  void* q = mremap(addr, old_bytes, new_bytes, MREMAP_MAYMOVE);
  if (q == MAP_FAILED) return nullptr;
  *it = Range{reinterpret_cast<uintptr_t>(q), new_bytes, true};
  self->mapped_live_ = self->mapped_live_ - old_bytes + new_bytes;
  return q;
}

uint64_t FakeOs::NowNs(void* ctx) { return static_cast<FakeOs*>(ctx)->now_ns_; }
