#include "base/base.h"
#include "base/hz3_fmt.h"

void hz3_config_dump(int fd) {
  hz3_dprintf(fd, "hz3 build configuration (--define knob=value; config/knobs.bzl)\n");
#define HZ3_KNOB_ROW(define, value, doc) \
  hz3_dprintf(fd, "  %-22s %10lld  # %s\n", define, (long long)(value), doc);
#include "config/hz3_config_table.inc"
#undef HZ3_KNOB_ROW
}
