/* The host counter table's operation: count a hit, or read a count, lock-free (see host_counters.c). */
#define _GNU_SOURCE
#include <time.h>
#include "counter_table.h"
#include "siphash.h"

uint64_t ct_monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline uint64_t load64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

/* Both words at once, or nothing. */
static inline int swap_slot(slot_t *s, uint64_t key, uint64_t state, uint64_t new_key, uint64_t new_state) {
  u128 expected = ((u128)state << 64) | key;
  u128 desired = ((u128)new_state << 64) | new_key;
  return __sync_bool_compare_and_swap((u128 *)s, expected, desired);
}

/* A consistent copy of a slot (two plain loads may straddle another process's swap). */
static inline void read_slot(slot_t *s, uint64_t *key, uint64_t *state) {
  u128 v = __sync_val_compare_and_swap((u128 *)s, (u128)0, (u128)0);
  *key = (uint64_t)v;
  *state = (uint64_t)(v >> 64);
}

static inline int is_free(uint64_t key, uint64_t state, uint64_t now) { return key == 0 || END_OF(state) <= now; }

static inline slot_t *slot_at(table_t *t, uint64_t home, unsigned i) { return &t->slots[(home + i) & t->mask]; }

/* Keeps the overflow mark at least `until`. */
static void mark_overflow(table_t *t, uint64_t until) {
  uint64_t cur = load64(&t->header->overflow_until);
  while (cur < until && !__atomic_compare_exchange_n(&t->header->overflow_until, &cur, until, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
  }
}

static double answer(uint64_t state, uint64_t now) {
  if (END_OF(state) <= now) return 0;
  return (double)COUNT_OF(state) * MS_FACTOR + (double)(END_OF(state) - now);
}

/* Merges every later copy of `key` in its run into the first; returns the first copy's answer. */
static double merge_copies(table_t *t, uint64_t key, uint64_t home, uint64_t now) {
  for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
    slot_t *first = NULL;
    int retry = 0;
    for (unsigned i = 0; i < PROBE && !retry; i++) {
      slot_t *s = slot_at(t, home, i);
      if (load64(&s->key) != key) continue;
      if (!first) {
        first = s;
        continue;
      }
      uint64_t k, st;
      read_slot(s, &k, &st);
      if (k != key) continue;
      if (!swap_slot(s, k, st, 0, 0)) {
        retry = 1;
        break;
      }
      uint64_t moved = END_OF(st) > now ? COUNT_OF(st) : 0;
      for (;;) {
        uint64_t fk, fs;
        read_slot(first, &fk, &fs);
        /* The first copy's window ended meanwhile: so did this one's, near enough; nothing to add. */
        if (fk != key || END_OF(fs) <= now || moved == 0) break;
        uint64_t count = COUNT_OF(fs) + moved;
        if (swap_slot(first, fk, fs, fk, STATE(END_OF(fs), count > COUNT_MAX ? COUNT_MAX : count))) break;
      }
    }
    if (retry) continue;
    if (!first) return NO_ROOM; /* every copy ended and was taken meanwhile: let the caller retry */
    uint64_t fk, fs;
    read_slot(first, &fk, &fs);
    if (fk != key) continue;
    return answer(fs, now);
  }
  return NO_ROOM;
}

double ct_hit(table_t *t, const uint8_t *text, size_t len, uint64_t window_ms, int peek) {
  uint64_t key = siphash(text, len, t->header->sip_k0, t->header->sip_k1);
  if (key == 0) key = 1; /* 0 marks an empty slot */
  uint64_t home = key & t->mask;
  int rescanned = 0;
  for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
    uint64_t now = ct_monotonic_ms() - t->header->base_ms;
    slot_t *found = NULL, *free_slot = NULL;
    uint64_t free_key = 0, free_state = 0;
    for (unsigned i = 0; i < PROBE; i++) {
      slot_t *s = slot_at(t, home, i);
      uint64_t k = load64(&s->key);
      if (k == key) {
        found = s;
        break;
      }
      if (!free_slot) {
        uint64_t st = load64(&s->state);
        if (is_free(k, st, now)) {
          free_slot = s;
          free_key = k;
          free_state = st;
        }
      }
    }
    if (found) {
      uint64_t k, st;
      read_slot(found, &k, &st);
      if (k != key) continue;
      if (peek) return answer(st, now);
      uint64_t next;
      if (END_OF(st) <= now) next = STATE(now + window_ms, 1);
      else next = STATE(END_OF(st), COUNT_OF(st) < COUNT_MAX ? COUNT_OF(st) + 1 : COUNT_MAX);
      if (!swap_slot(found, k, st, k, next)) continue;
      return answer(next, now);
    }
    /* Absent. While the table is (or was lately) full, absent keys are counted elsewhere. */
    int overflowed = load64(&t->header->overflow_until) > now;
    if (peek && !overflowed) return 0;
    if (overflowed || !free_slot) {
      if (!peek) mark_overflow(t, now + window_ms + OVERFLOW_MARGIN_MS);
      /* Scanned once more after the mark: a process that read the mark clear may have inserted
       * the key meanwhile, and its hits are then counted in the table, with this one. */
      if (!rescanned) {
        rescanned = 1;
        continue;
      }
      return NO_ROOM;
    }
    uint64_t fresh = STATE(now + window_ms, 1);
    if (!swap_slot(free_slot, free_key, free_state, key, fresh)) continue;
    /* The mark set since it was read above: a process that found no room may be counting this key
     * elsewhere. Unless another hit was counted on the insert already, it is taken back and this
     * hit goes elsewhere too. */
    if (load64(&t->header->overflow_until) > now && swap_slot(free_slot, key, fresh, 0, 0)) return NO_ROOM;
    double merged = merge_copies(t, key, home, now);
    if (merged == NO_ROOM) continue;
    return merged;
  }
  return NO_ROOM;
}
