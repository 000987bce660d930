/* rss_sampler: samples a process's memory as CSV "t_ms,rss_kb,vms_kb,pss_kb,uss_kb".
 * VmRSS/VmSize from /proc/PID/status every 50 ms; Pss and USS (Private_Clean+Private_Dirty)
 * from /proc/PID/smaps_rollup every 20 ticks (empty in the rows between).
 *   rss_sampler [-o FILE] [-i MS] -- COMMAND [ARGS...]   run COMMAND, sample until it exits
 *   rss_sampler [-o FILE] [-i MS] -p PID                 attach to PID until it exits
 * With a command, exits with the command's status; its output goes to this stdout. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_util.h"

static int read_status(pid_t pid, long *rss, long *vms) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[256];
  *rss = *vms = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0)
      *rss = strtol(line + 6, NULL, 10);
    else if (strncmp(line, "VmSize:", 7) == 0)
      *vms = strtol(line + 7, NULL, 10);
  }
  fclose(f);
  return *rss >= 0 ? 0 : -1;
}

static void read_rollup(pid_t pid, long *pss, long *uss) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
  FILE *f = fopen(path, "r");
  *pss = *uss = -1;
  if (!f) return;
  char line[256];
  long pc = 0, pd = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "Pss:", 4) == 0)
      *pss = strtol(line + 4, NULL, 10);
    else if (strncmp(line, "Private_Clean:", 14) == 0)
      pc = strtol(line + 14, NULL, 10);
    else if (strncmp(line, "Private_Dirty:", 14) == 0)
      pd = strtol(line + 14, NULL, 10);
  }
  fclose(f);
  *uss = pc + pd;
}

static void usage(void) {
  fprintf(stderr,
          "usage: rss_sampler [-o FILE] [-i MS] -- COMMAND [ARGS...]\n"
          "       rss_sampler [-o FILE] [-i MS] -p PID\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *out_path = NULL;
  long interval_ms = 50;
  pid_t pid = 0;
  int cmd = -1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
      out_path = argv[++i];
    else if (strcmp(argv[i], "-i") == 0 && i + 1 < argc)
      interval_ms = (long)bench_parse_u64("-i", argv[++i]);
    else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
      pid = (pid_t)bench_parse_u64("-p", argv[++i]);
    else if (strcmp(argv[i], "--") == 0 && i + 1 < argc) {
      cmd = i + 1;
      break;
    } else
      usage();
  }
  if ((pid == 0) == (cmd < 0) || interval_ms <= 0) usage();
  FILE *out = stdout;
  if (out_path && !(out = fopen(out_path, "w"))) {
    fprintf(stderr, "error: cannot write %s: %s\n", out_path, strerror(errno));
    return 2;
  }
  int own_child = 0;
  if (cmd >= 0) {
    pid = fork();
    if (pid < 0) {
      fprintf(stderr, "error: fork: %s\n", strerror(errno));
      return 2;
    }
    if (pid == 0) {
      execvp(argv[cmd], &argv[cmd]);
      fprintf(stderr, "error: cannot run %s: %s\n", argv[cmd], strerror(errno));
      _exit(127);
    }
    own_child = 1;
  } else if (kill(pid, 0) != 0) {
    fprintf(stderr, "error: no process %d\n", (int)pid);
    return 2;
  }
  fprintf(out, "t_ms,rss_kb,vms_kb,pss_kb,uss_kb\n");
  double t0 = bench_now_s();
  int status = 0;
  for (long tick = 0;; tick++) {
    if (own_child) {
      pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid) break;
    }
    long rss, vms, pss = -1, uss = -1;
    if (read_status(pid, &rss, &vms) != 0) break; /* gone */
    if (tick % 20 == 0) read_rollup(pid, &pss, &uss);
    long t = (long)((bench_now_s() - t0) * 1000.0);
    if (pss >= 0)
      fprintf(out, "%ld,%ld,%ld,%ld,%ld\n", t, rss, vms, pss, uss);
    else
      fprintf(out, "%ld,%ld,%ld,,\n", t, rss, vms);
    fflush(out);
    usleep((useconds_t)(interval_ms * 1000));
  }
  if (out != stdout) fclose(out);
  if (own_child) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  return 0;
}
