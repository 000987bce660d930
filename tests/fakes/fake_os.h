// tests/fakes/fake_os.h: a fake hz3_os_ops_t for box tests.
//
// Memory is real (the boxes write to it), but every call is counted and every range recorded,
// claim, map_at and map can be told to fail with ENOMEM, a test can take address space a box
// would grow into (Occupy), and the clock moves only when a test calls
// Advance(). dontneed really drops the pages (MADV_DONTNEED), so a test can check that purged
// memory reads back as zero. Not thread-safe for its counters' readers; the operations
// themselves may be called from several threads (a mutex guards the records).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

extern "C" {
#include "base/base.h"
}

class FakeOs {
 public:
  struct Range {
    uintptr_t addr;
    size_t bytes;
    bool from_map = false;  // made by map (counted in mapped_bytes_live), not map_at
  };

  FakeOs();
  ~FakeOs();  // releases whatever the box under test did not

  const hz3_os_ops_t* ops() const { return &ops_; }

  // The clock.
  void Advance(uint64_t ns) { now_ns_ += ns; }
  uint64_t now_ns() const { return now_ns_; }

  // Failure injection: the next n calls succeed, later ones fail with ENOMEM. -1 = never fail.
  void FailClaimAfter(long n) { claim_fail_after_ = n; }
  void FailMapAtAfter(long n) { map_at_fail_after_ = n; }
  void FailMapAfter(long n) { map_fail_after_ = n; }  // map and remap
  // From now on dontneed fails with EINVAL and leaves the pages as they are (mlocked memory).
  void FailDontneed(bool fail) { dontneed_fails_ = fail; }

  // Counters.
  size_t claim_calls() const { return claim_calls_; }
  size_t map_at_calls() const { return map_at_calls_; }
  size_t release_calls() const { return release_calls_; }
  size_t dontneed_calls() const { return dontneed_.size(); }       // ranges, batched or not
  size_t dontneed_syscalls() const { return dontneed_syscalls_; }  // OS calls they took
  size_t map_calls() const { return map_calls_; }
  size_t remap_calls() const { return remap_calls_; }
  size_t map_at_pages() const { return map_at_bytes_ / HZ3_PAGE_SIZE; }
  size_t dontneed_pages() const;
  size_t mapped_bytes_live() const { return mapped_live_; }
  const std::vector<Range>& dontneed_ranges() const { return dontneed_; }
  const std::vector<Range>& map_at_ranges() const { return map_ats_; }
  void ClearRecords();

  // Maps [addr, addr + bytes) as some other part of the program would (PROT_NONE), so that a
  // box growing into it finds it taken; Vacate gives it back.
  bool Occupy(uintptr_t addr, size_t bytes);
  void Vacate(uintptr_t addr, size_t bytes);

 private:
  static void* Claim(void* ctx, size_t bytes, size_t align);
  static int MapAt(void* ctx, void* addr, size_t bytes);
  static int Release(void* ctx, void* addr, size_t bytes);
  static int Dontneed(void* ctx, void* addr, size_t bytes);
  static int DontneedMany(void* ctx, const hz3_os_range_t* ranges, uint32_t n);
  static void* Map(void* ctx, size_t bytes, size_t align);
  static void* Remap(void* ctx, void* addr, size_t old_bytes, size_t new_bytes);
  static uint64_t NowNs(void* ctx);
  static bool ShouldFail(long* after);

  hz3_os_ops_t ops_;
  uint64_t now_ns_ = 1000000000ull;
  long claim_fail_after_ = -1, map_at_fail_after_ = -1, map_fail_after_ = -1;
  bool dontneed_fails_ = false;
  size_t claim_calls_ = 0, map_at_calls_ = 0, release_calls_ = 0, map_calls_ = 0, remap_calls_ = 0;
  size_t map_at_bytes_ = 0, mapped_live_ = 0;
  std::vector<Range> dontneed_, map_ats_, live_mappings_;
  size_t dontneed_syscalls_ = 0;
  std::mutex mu_;
};
