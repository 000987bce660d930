/* check_test: misuse is reported with one clear line on stderr and an abort, never silent
 * corruption.  Each case runs in a child process.  A pointer in hz3's arena that no run holds
 * is caught in every build, and so are the immediate double free and a pointer written into a
 * freed object (it never comes back from malloc), and a double free or an interior pointer of
 * a small object by the time the thread's cache sends it home (malloc_trim here); the check
 * build (--define check=1, part of --config=all_on) catches interior pointers and double frees
 * at the call itself, and writes past the end; the test asks the .so which build it is. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/preload_check.h"

/* Runs fn in a child with its stderr captured into out; returns the child's wait status. */
static int run_child(void (*fn)(void), char *out, size_t cap) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    fn();
    _exit(0); /* not caught: the parent reports it */
  }
  close(fds[1]);
  ssize_t n = read(fds[0], out, cap - 1);
  close(fds[0]);
  out[n > 0 ? n : 0] = '\0';
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

/* Runs fn in a child; the child must abort with `expect` in its stderr. */
static void expect_abort(const char *name, void (*fn)(void), const char *expect) {
  char out[1024];
  int status = run_child(fn, out, sizeof out);
  int aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  int said = strstr(out, expect) != NULL && strstr(out, "hz3: fatal:") != NULL;
  if (!aborted || !said) fprintf(stderr, "%s: aborted=%d, stderr: %s\n", name, aborted, out);
  CHECK(aborted && said);
}

static void free_unused_arena_page(void) {
  char *p = malloc(100);
  free(p + (256ul << 20)); /* 256 MiB further into the arena (the smallest is 1 GiB): no run */
}

static void double_free(void) {
  void *p = malloc(48);
  free(p);
  free(p);
}

static void interior_free(void) {
  char *p = malloc(200);
  free(p + 16);
}

/* A double free with another free between (the cache's head is not the object), and an
 * interior pointer 16 bytes in (aligned like an object), each sent home by malloc_trim. */
static void double_free_later(void) {
  void *p = malloc(48), *q = malloc(48);
  free(p);
  free(q);
  free(p);
  malloc_trim(0);
}

static void interior_free_later(void) {
  char *p = malloc(48);
  free(p + 16);
  malloc_trim(0);
}

/* Writes n bytes at p one by one, out of the compiler's and _FORTIFY_SOURCE's sight. */
static void scribble(char *p, size_t n) {
  __asm__ volatile("" : "+r"(p));
  for (size_t i = 0; i < n; i++) p[i] = 1;
}

static void overrun(void) {
  char *p = malloc(100);
  scribble(p, 101); /* one byte too many */
  free(p);
}

static void overrun_trailer(void) {
  char *p = malloc(112);
  scribble(p, 112 + 20); /* into the trailer */
  free(p);
}

static void large_interior_free(void) {
  char *p = malloc(4 << 20);
  free(p + 4096);
}

static void large_double_free(void) {
  char *p = malloc(4 << 20);
  free(p);
  free(p);
}

/* Big blocks (runs of their own, above 64 KiB): misuse reaches central at once. */
static void big_interior_free(void) {
  char *p = malloc(300000);
  free(p + 4096);
}

static void big_double_free(void) {
  char *p = malloc(300000);
  free(p);
  free(p);
}

static void big_overrun(void) {
  char *p = malloc(300000);
  scribble(p, 300001);
  free(p);
}

static char g_target[64]; /* the address an attacker would like malloc to return */

/* A use-after-free write of a chosen pointer into a freed object, then mallocs of its size:
 * hz3 must never hand out the chosen address.  The link is stored XORed with a secret key, so
 * the write decodes to a non-canonical address: the check build reports the corrupted list,
 * the others fault inside malloc.  Exits 3 if the chosen address came back. */
static void poisoned_link(void) {
  void *keep = malloc(64), *p = malloc(64);
  void *q = malloc(64);
  free(q);
  free(p); /* the bin: p -> q */
  void *chosen = g_target;
  memcpy(p, &chosen, sizeof chosen); /* the use-after-free write */
  for (int i = 0; i < 4; i++) {
    void *r = malloc(64);
    if (r == (void *)g_target) _exit(3);
  }
  free(keep);
  _exit(4); /* survived without handing it out: not expected either */
}

/* Runs fn in a child; the child must die by a signal (the check build: abort with `expect`),
 * never exit with a code (3: the chosen address came back). */
static void expect_refused(const char *name, void (*fn)(void), const char *expect, int check) {
  char out[1024];
  int status = run_child(fn, out, sizeof out);
  int ok =
      WIFSIGNALED(status) && (check ? WTERMSIG(status) == SIGABRT && strstr(out, expect) != NULL
                                    : WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGABRT);
  if (!ok)
    fprintf(stderr, "%s: status %d (exit %d, signal %d), stderr: %s\n", name, status,
            WIFEXITED(status) ? WEXITSTATUS(status) : -1,
            WIFSIGNALED(status) ? WTERMSIG(status) : -1, out);
  CHECK(ok);
}

int main(void) {
  require_hz3_loaded();
  long check = hz3_knob("check");
  CHECK(check == 0 || check == 1);
  expect_abort("free of an unused arena page", free_unused_arena_page, "invalid pointer");
  /* Hardening in every build: the immediate double free, and links an attacker can't steer. */
  expect_abort("double free", double_free, "double free");
  expect_abort("double free, not the last free", double_free_later, "double free of");
  expect_abort("interior pointer, sent home", interior_free_later, "inside an object");
  expect_refused("use-after-free write of a chosen pointer", poisoned_link, "corrupted free list",
                 check == 1);
  expect_abort("free inside a large block", large_interior_free, "inside the large block");
  expect_abort("large block freed twice", large_double_free, "double free of the large block");
  expect_abort("free inside a big block", big_interior_free, "inside an object");
  /* The run went back to its segment at the first free: its pages are in no run now. */
  expect_abort("big block freed twice", big_double_free, "freed twice");
  /* Impossible sizes are NULL + ENOMEM in every build (the check build adds a trailer to
   * each size: it must not wrap). */
  errno = 0;
  CHECK(valloc(SIZE_MAX) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(memalign(32, SIZE_MAX) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(memalign(4096, SIZE_MAX - 100) == NULL && errno == ENOMEM);
  void *never = NULL;
  CHECK(posix_memalign(&never, 64, SIZE_MAX) == ENOMEM && never == NULL);
  /* malloc_usable_size of what hz3 never returned answers as glibc does: 0. */
  long on_stack = 0;
  CHECK_EQ_LL(malloc_usable_size(&on_stack), 0);
  CHECK_EQ_LL(malloc_usable_size(g_target + 16), 0);
  char *big = malloc(4 << 20);
  CHECK_EQ_LL(malloc_usable_size(big + 4096), 0); /* inside a large block: not a block */
  CHECK(malloc_usable_size(big) >= (4u << 20));
  free(big);
  if (check == 1) {
    expect_abort("interior pointer", interior_free, "inside an object");
    expect_abort("write past the end", overrun, "heap overrun");
    expect_abort("write into the trailer", overrun_trailer, "heap overrun");
    expect_abort("write past the end of a big block", big_overrun, "heap overrun");
    /* Correct use is not reported: usable size is the request, realloc keeps data. */
    char *p = malloc(30);
    CHECK(malloc_usable_size(p) == 30);
    memset(p, 7, 30);
    p = realloc(p, 3000);
    CHECK(p[29] == 7);
    free(p);
  } else {
    fprintf(stderr,
            "check=0 build: interior pointer and overrun cases need --define check=1 "
            "(run under --config=all_on)\n");
  }
  return checks_summary("check_test");
}
