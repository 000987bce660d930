/* cpu_time: runs a command and prints the CPU time it and its children used, its wall time
 * and its peak RSS, for benchmarks of real programs (compilers, interpreters, databases),
 * whose speed under an allocator is their CPU time rather than a rate they print.
 *   cpu_time COMMAND [ARGS...]
 * Prints "cpu_time: U s user, S s sys, T s cpu, W s wall, peak K KiB" on stderr (the
 * command's own output stays on stdout) and exits with the command's status. */
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_util.h"

static double seconds(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cpu_time COMMAND [ARGS...]\n");
    return 2;
  }
  double t0 = bench_now_s();
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "error: fork: %s\n", strerror(errno));
    return 2;
  }
  if (pid == 0) {
    execvp(argv[1], &argv[1]);
    fprintf(stderr, "error: cannot run %s: %s\n", argv[1], strerror(errno));
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  /* wait4 reports the child's usage together with that of every descendant it waited for
   * (the compiler driver's cc1, a shell's commands). */
  if (wait4(pid, &status, 0, &ru) != pid) {
    fprintf(stderr, "error: wait4: %s\n", strerror(errno));
    return 2;
  }
  double wall = bench_now_s() - t0, user = seconds(ru.ru_utime), sys = seconds(ru.ru_stime);
  fprintf(stderr, "cpu_time: %.3f s user, %.3f s sys, %.3f s cpu, %.3f s wall, peak %ld KiB\n",
          user, sys, user + sys, wall, ru.ru_maxrss);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
