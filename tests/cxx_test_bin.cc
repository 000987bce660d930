// cxx_test: every form of C++ operator new/delete reaches hz3 under LD_PRELOAD (the symbol
// resolves into libhz3.so and the memory is in hz3's size classes), new throws std::bad_alloc
// on failure, nothrow new returns nullptr, and the new-handler is honoured.
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>

#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <vector>

static int g_failed = 0, g_run = 0;
#define CHECK(c)                                                                 \
  do {                                                                           \
    g_run++;                                                                     \
    if (!(c)) {                                                                  \
      g_failed++;                                                                \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
    }                                                                            \
  } while (0)

static bool FromHz3(const char* symbol) {
  void* addr = dlsym(RTLD_DEFAULT, symbol);
  Dl_info info;
  return addr != nullptr && dladdr(addr, &info) != 0 && info.dli_fname != nullptr &&
         std::strstr(info.dli_fname, "libhz3") != nullptr;
}

struct alignas(256) Wide {
  char bytes[300];
};

static int g_handler_calls = 0;
static void Handler() {
  g_handler_calls++;
  std::set_new_handler(nullptr);  // next failure: bad_alloc
}

int main() {
  if (dlsym(RTLD_DEFAULT, "hz3_stats_get") == nullptr) {
    std::fprintf(stderr, "FATAL: libhz3.so is not loaded\n");
    return 1;
  }
  for (const char* s :
       {"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t",
        "_ZnamSt11align_val_t", "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvSt11align_val_t",
        "_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t"}) {
    if (!FromHz3(s)) std::fprintf(stderr, "%s does not resolve into libhz3.so\n", s);
    CHECK(FromHz3(s));
  }
  // Plain, array, sized delete: hz3's classes (100 B -> the 112 B class; the check build
  // reports the request itself).
  char* one = new char;
  CHECK(malloc_usable_size(one) == 16 || malloc_usable_size(one) == 1);
  delete one;
  char* arr = new char[100];
  CHECK(malloc_usable_size(arr) == 112 || malloc_usable_size(arr) == 100);
  delete[] arr;
  std::string* str = new std::string(1000, 'x');
  CHECK(str->size() == 1000);
  delete str;  // sized delete under -fsized-deallocation (C++14 default)
  // Aligned new (C++17): over-aligned types.
  Wide* w = new Wide;
  CHECK(reinterpret_cast<uintptr_t>(w) % 256 == 0);
  delete w;
  Wide* wa = new Wide[5];
  CHECK(reinterpret_cast<uintptr_t>(wa) % 256 == 0);
  delete[] wa;
  void* raw = ::operator new(5000, std::align_val_t(4096));
  CHECK(reinterpret_cast<uintptr_t>(raw) % 4096 == 0);
  ::operator delete(raw, 5000, std::align_val_t(4096));
  void* big_aligned = ::operator new(100, std::align_val_t(1 << 16));
  CHECK(reinterpret_cast<uintptr_t>(big_aligned) % (1 << 16) == 0);
  ::operator delete(big_aligned, std::align_val_t(1 << 16));
  // nothrow.
  void* nt = ::operator new(64, std::nothrow);
  CHECK(nt != nullptr);
  ::operator delete(nt, std::nothrow);
  volatile size_t huge = SIZE_MAX / 2;
  CHECK(::operator new(huge, std::nothrow) == nullptr);
  CHECK(::operator new[](huge, std::align_val_t(64), std::nothrow) == nullptr);
  // Failure throws std::bad_alloc.
  bool threw = false;
  try {
    char* never = new char[huge];
    std::fprintf(stderr, "no exception: %p\n", static_cast<void*>(never));
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  CHECK(threw);
  // The new-handler runs before bad_alloc.
  std::set_new_handler(Handler);
  threw = false;
  try {
    void* never = ::operator new(huge);
    std::fprintf(stderr, "no exception: %p\n", never);
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  CHECK(threw && g_handler_calls == 1);
  // A container's worth of churn.
  std::vector<std::string> v;
  for (int i = 0; i < 100000; i++) v.emplace_back(std::to_string(i) + std::string(i % 300, 'y'));
  CHECK(v[99999].size() == 5 + 99999 % 300);
  std::fprintf(stderr, "cxx_test: %d checks, %d failed\n", g_run, g_failed);
  return g_failed ? 1 : 0;
}
