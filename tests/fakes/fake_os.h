// tests/fakes/fake_os.h: a fake hz3_os_ops_t for box tests.
//
// Memory is real (the boxes write to it), but every call is counted and every range recorded,
// commit and map can be told to fail with ENOMEM, and the clock moves only when a test calls
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
  };

  FakeOs();
  ~FakeOs();  // releases whatever the box under test did not

  const hz3_os_ops_t* ops() const { return &ops_; }

  // The clock.
  void Advance(uint64_t ns) { now_ns_ += ns; }
  uint64_t now_ns() const { return now_ns_; }

  // Failure injection: the next n calls succeed, later ones fail with ENOMEM. -1 = never fail.
  void FailReserveAfter(long n) { reserve_fail_after_ = n; }
  void FailCommitAfter(long n) { commit_fail_after_ = n; }
  void FailMapAfter(long n) { map_fail_after_ = n; }  // map and remap

  // Counters.
  size_t reserve_calls() const { return reserve_calls_; }
  size_t commit_calls() const { return commit_calls_; }
  size_t release_calls() const { return release_calls_; }
  size_t dontneed_calls() const { return dontneed_.size(); }       // ranges, batched or not
  size_t dontneed_syscalls() const { return dontneed_syscalls_; }  // OS calls they took
  size_t map_calls() const { return map_calls_; }
  size_t remap_calls() const { return remap_calls_; }
  size_t committed_pages() const { return committed_bytes_ / HZ3_PAGE_SIZE; }
  size_t dontneed_pages() const;
  size_t mapped_bytes_live() const { return mapped_live_; }
  const std::vector<Range>& dontneed_ranges() const { return dontneed_; }
  const std::vector<Range>& commit_ranges() const { return commits_; }
  void ClearRecords();

 private:
  static void* Reserve(void* ctx, size_t bytes, size_t align);
  static void* ReserveReadable(void* ctx, size_t bytes);
  static int Commit(void* ctx, void* addr, size_t bytes);
  static int Release(void* ctx, void* addr, size_t bytes);
  static int Dontneed(void* ctx, void* addr, size_t bytes);
  static int DontneedMany(void* ctx, const hz3_os_range_t* ranges, uint32_t n);
  static void* Map(void* ctx, size_t bytes, size_t align);
  static void* Remap(void* ctx, void* addr, size_t old_bytes, size_t new_bytes);
  static uint64_t NowNs(void* ctx);
  static bool ShouldFail(long* after);
  void* ReserveWith(size_t bytes, size_t align, int prot);

  hz3_os_ops_t ops_;
  uint64_t now_ns_ = 1000000000ull;
  long reserve_fail_after_ = -1, commit_fail_after_ = -1, map_fail_after_ = -1;
  size_t reserve_calls_ = 0, commit_calls_ = 0, release_calls_ = 0, map_calls_ = 0,
         remap_calls_ = 0;
  size_t committed_bytes_ = 0, mapped_live_ = 0;
  std::vector<Range> dontneed_, commits_, live_mappings_;
  size_t dontneed_syscalls_ = 0;
  std::mutex mu_;
};
