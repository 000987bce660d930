// base/lock_test.cc: hz3_lock_t excludes, sleeps and wakes, and resets.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

extern "C" {
#include "base/hz3_lock.h"
}

namespace {

TEST(LockTest, TryFailsWhileHeldAndSucceedsAfter) {
  hz3_lock_t l = HZ3_LOCK_INIT;
  EXPECT_TRUE(hz3_lock_try(&l));
  EXPECT_FALSE(hz3_lock_try(&l));
  hz3_lock_release(&l);
  EXPECT_TRUE(hz3_lock_try(&l));
  hz3_lock_release(&l);
  EXPECT_EQ(l.state, 0u);
}

// Threads add to a plain counter under the lock, with a few more plain writes inside, so that
// a lock that let two in at once loses increments.  More threads than CPUs, so that holders
// are preempted and waiters go past their spin to the futex.
TEST(LockTest, NoIncrementIsLostUnderContention) {
  hz3_lock_t l;
  hz3_lock_init(&l);
  uint64_t counter = 0, shadow = 0;
  const int threads = 8, rounds = 200000;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&] {
      for (int i = 0; i < rounds; i++) {
        hz3_lock_acquire(&l);
        uint64_t c = counter;
        shadow = c; /* a second plain write a racing holder would tear */
        counter = c + 1;
        EXPECT_EQ(shadow + 1, counter);
        hz3_lock_release(&l);
      }
    });
  for (auto &t : ts) t.join();
  EXPECT_EQ(counter, (uint64_t)threads * rounds);
  EXPECT_EQ(l.state, 0u);
}

// A waiter that finds the lock held long past its spin sleeps, and the release wakes it.
TEST(LockTest, ASleepingWaiterIsWokenByTheRelease) {
  hz3_lock_t l = HZ3_LOCK_INIT;
  hz3_lock_acquire(&l);
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    hz3_lock_acquire(&l);
    got = true;
    hz3_lock_release(&l);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(got.load());
  EXPECT_EQ(__atomic_load_n(&l.state, __ATOMIC_RELAXED), 2u); /* it announced it sleeps */
  hz3_lock_release(&l);
  waiter.join();
  EXPECT_TRUE(got.load());
  EXPECT_EQ(l.state, 0u);
}

// After fork the child's copy of a held lock belongs to no thread of the child: reset frees it.
TEST(LockTest, ResetInAForkedChildFreesALockTheParentHeld) {
  hz3_lock_t l = HZ3_LOCK_INIT;
  hz3_lock_acquire(&l);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    bool held = !hz3_lock_try(&l);
    hz3_lock_reset(&l);
    bool ok = held && hz3_lock_try(&l);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  hz3_lock_release(&l);
}

}  // namespace
