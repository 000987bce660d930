/* tcache/batches.c: per-class stacks of whole batches, with demand, slots and a byte cap. */
#include "tcache/batches.h"

#include <string.h>

void hz3_batches_init(hz3_batches_t *b, uint64_t max_bytes) {
  memset(b, 0, sizeof *b);
  b->max_bytes = max_bytes;
  for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++) hz3_lock_init(&b->cls[c].lock);
}

static uint64_t batch_bytes(uint32_t cls, uint32_t n) {
  return (uint64_t)n * hz3_class_to_size(cls);
}

bool hz3_batches_put(hz3_batches_t *b, uint32_t cls, void *head, uint32_t n) {
  hz3_batches_class_t *k = &b->cls[cls];
  /* Without the lock first: a class nobody refills keeps nothing, and most refused puts are
   * of that kind (a thread freeing what no one allocates again). */
  if (__atomic_load_n(&k->demand, __ATOMIC_RELAXED) == 0 || head == NULL || n == 0) return false;
  uint64_t bytes = batch_bytes(cls, n);
  /* Reserve the bytes before the slot, so that the cap holds however many threads put. */
  if (__atomic_add_fetch(&b->bytes, bytes, __ATOMIC_RELAXED) > b->max_bytes) {
    __atomic_sub_fetch(&b->bytes, bytes, __ATOMIC_RELAXED);
    return false;
  }
  bool kept = false;
  hz3_lock_acquire(&k->lock);
  if (__atomic_load_n(&k->demand, __ATOMIC_RELAXED) > 0 && k->count < HZ3_BATCHES_SLOTS) {
    k->slot[k->count].head = head;
    k->slot[k->count].n = n;
    __atomic_store_n(&k->count, k->count + 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&k->demand, 1, __ATOMIC_RELAXED);
    kept = true;
  }
  hz3_lock_release(&k->lock);
  if (!kept) __atomic_sub_fetch(&b->bytes, bytes, __ATOMIC_RELAXED);
  return kept;
}

bool hz3_batches_take_slow(hz3_batches_t *b, uint32_t cls, uint32_t max_n, hz3_batch_t *out) {
  hz3_batches_class_t *k = &b->cls[cls];
  bool found = false;
  hz3_lock_acquire(&k->lock);
  /* The newest that fits: it was freed last, so its objects are the likeliest still cached. */
  for (uint32_t i = k->count; i-- > 0;) {
    if (k->slot[i].n > max_n) continue;
    *out = k->slot[i];
    memmove(&k->slot[i], &k->slot[i + 1], (k->count - i - 1) * sizeof k->slot[0]);
    __atomic_store_n(&k->count, k->count - 1, __ATOMIC_RELAXED);
    if (i < k->stale) k->stale--;
    found = true;
    break;
  }
  hz3_lock_release(&k->lock);
  if (found) __atomic_sub_fetch(&b->bytes, batch_bytes(cls, out->n), __ATOMIC_RELAXED);
  return found;
}

/* Moves class k's oldest `take` batches into out; caller holds the lock. */
static uint32_t take_oldest(hz3_batches_t *b, uint32_t cls, uint32_t take,
                            hz3_batch_t out[HZ3_BATCHES_SLOTS]) {
  hz3_batches_class_t *k = &b->cls[cls];
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < take; i++) {
    out[i] = k->slot[i];
    bytes += batch_bytes(cls, out[i].n);
  }
  memmove(&k->slot[0], &k->slot[take], (k->count - take) * sizeof k->slot[0]);
  __atomic_store_n(&k->count, k->count - take, __ATOMIC_RELAXED);
  if (bytes) __atomic_sub_fetch(&b->bytes, bytes, __ATOMIC_RELAXED);
  return take;
}

uint32_t hz3_batches_sweep(hz3_batches_t *b, uint32_t cls, hz3_batch_t out[HZ3_BATCHES_SLOTS]) {
  hz3_batches_class_t *k = &b->cls[cls];
  hz3_lock_acquire(&k->lock);
  uint32_t n = take_oldest(b, cls, HZ3_MIN(k->stale, k->count), out);
  k->stale = k->count; /* what is left is marked: gone by the next sweep unless taken */
  hz3_lock_release(&k->lock);
  return n;
}

uint32_t hz3_batches_take_all(hz3_batches_t *b, uint32_t cls, hz3_batch_t out[HZ3_BATCHES_SLOTS]) {
  hz3_batches_class_t *k = &b->cls[cls];
  hz3_lock_acquire(&k->lock);
  uint32_t n = take_oldest(b, cls, k->count, out);
  k->stale = 0;
  __atomic_store_n(&k->demand, 0, __ATOMIC_RELAXED);
  hz3_lock_release(&k->lock);
  return n;
}

void hz3_batches_lock_all(hz3_batches_t *b) {
  for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++) hz3_lock_acquire(&b->cls[c].lock);
}

void hz3_batches_unlock_all(hz3_batches_t *b) {
  for (uint32_t c = HZ3_NUM_CLASSES; c-- > 0;) hz3_lock_release(&b->cls[c].lock);
}

void hz3_batches_reset_locks_in_child(hz3_batches_t *b) {
  for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++) hz3_lock_reset(&b->cls[c].lock);
}

bool hz3_batches_check(hz3_batches_t *b, hz3_check_report_t *report) {
  uint64_t bytes = 0;
  for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++) {
    hz3_batches_class_t *k = &b->cls[c];
    hz3_lock_acquire(&k->lock);
    bool ok = k->count <= HZ3_BATCHES_SLOTS && k->stale <= k->count;
    for (uint32_t i = 0; ok && i < k->count; i++) {
      ok = k->slot[i].head != NULL && k->slot[i].n > 0;
      bytes += batch_bytes(c, k->slot[i].n);
    }
    uint32_t count = k->count, stale = k->stale;
    hz3_lock_release(&k->lock);
    if (!ok)
      return hz3_check_fail(report, "batches class %u: count %u stale %u, or an empty batch", c,
                            count, stale);
  }
  if (bytes != hz3_batches_bytes(b))
    return hz3_check_fail(report, "batches: hold %llu bytes, books say %llu",
                          (unsigned long long)bytes, (unsigned long long)hz3_batches_bytes(b));
  if (bytes > b->max_bytes)
    return hz3_check_fail(report, "batches: %llu bytes over the cap %llu",
                          (unsigned long long)bytes, (unsigned long long)b->max_bytes);
  return true;
}
