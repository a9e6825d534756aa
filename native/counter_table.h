/* The host counter table's layout in shared memory and its one operation (counter_table.c); see
 * host_counters.c for the design. */
#ifndef CORRAL_COUNTER_TABLE_H
#define CORRAL_COUNTER_TABLE_H
#include <stddef.h>
#include <stdint.h>

#define MAGIC 0x3150544352524f43ULL /* "CORRCTP1" */
#define VERSION 3u
#define PROBE 32u
#define MIN_SLOTS 64u
#define MAX_SLOTS (1u << 26)
#define MAX_GAUGES 65536u
#define COUNT_BITS 24
#define COUNT_MAX ((1ULL << COUNT_BITS) - 1)
#define END_OF(s) ((s) >> COUNT_BITS)
#define COUNT_OF(s) ((s)&COUNT_MAX)
#define STATE(end, count) (((uint64_t)(end) << COUNT_BITS) | (uint64_t)(count))
/* Longer than a worker waits for the master's count (worker/main.ts COUNTER_TIMEOUT_MS, 2 s):
 * a hit sent to the master just before the table took keys again reaches it within that. */
#define OVERFLOW_MARGIN_MS 5000u
/* A slot is retried when another process changed it between the read and the swap; each retry
 * means another process made progress. Past this many, the count goes elsewhere (NO_ROOM). */
#define MAX_RETRIES 10000
#define NO_ROOM (-1.0)
#define MS_FACTOR 134217728.0 /* 2^27: more than the longest window, 86,400,000 ms */

typedef unsigned __int128 u128;

typedef struct {
  uint64_t magic;
  uint32_t version;
  uint32_t probe;
  uint64_t slots;
  uint64_t sip_k0, sip_k1;
  uint64_t base_ms;
  uint64_t overflow_until;
  uint32_t gauges;     /* connection gauges after the slots (host_counters.c, "Connection gauges") */
  uint32_t gauge_high; /* one past the highest gauge ever added to: a total reads no further */
  uint64_t room_wanted; /* STATE(end, count): connections refused for want of room (host_counters.c, "Room wanted") */
  uint64_t reserved;
} header_t; /* 80 bytes: the slots after it stay 16-byte aligned */
_Static_assert(sizeof(header_t) % 16 == 0, "the slots after the header must stay 16-byte aligned");

typedef struct {
  uint64_t key;
  uint64_t state;
} __attribute__((aligned(16))) slot_t;

typedef struct {
  header_t *header;
  slot_t *slots;
  int64_t *gauges;
  size_t map_len;
  uint64_t mask;
} table_t;

/* CLOCK_MONOTONIC in ms: the same clock in every process of the host, and one no clock change moves. */
uint64_t ct_monotonic_ms(void);

/* Counts one hit (peek: reads the count) of the key whose hashed text is `text`; see host_counters.c. */
double ct_hit(table_t *t, const uint8_t *text, size_t len, uint64_t window_ms, int peek);

#endif
