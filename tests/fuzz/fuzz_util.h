/* tests/fuzz/fuzz_util.h: reading operations from libFuzzer's bytes, and failing loudly. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"

typedef struct {
  const uint8_t *data;
  size_t size, pos;
} fuzz_in_t;

static inline uint32_t fuzz_u8(fuzz_in_t *in) {
  return in->pos < in->size ? in->data[in->pos++] : 0;
}
static inline uint32_t fuzz_u16(fuzz_in_t *in) { return fuzz_u8(in) | (fuzz_u8(in) << 8); }
static inline int fuzz_more(const fuzz_in_t *in) { return in->pos < in->size; }

/* An invariant broke: say which and crash, so libFuzzer keeps the input. */
#define FUZZ_REQUIRE(cond, ...)                       \
  do {                                                \
    if (!(cond)) {                                    \
      fprintf(stderr, "fuzz invariant: %s: ", #cond); \
      fprintf(stderr, __VA_ARGS__);                   \
      fprintf(stderr, "\n");                          \
      abort();                                        \
    }                                                 \
  } while (0)
