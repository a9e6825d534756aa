/*
 * Host-wide window counters in memory shared by the master and its workers (corral's per-IP rate
 * limit and failed-login limit per name). Asking the master over node:cluster IPC cost a third or
 * more of the peak req/s of a cached read (the `ratelimit` bench); a count here is one 128-bit
 * compare-and-swap, answered synchronously.
 *
 * The memory: a memfd (no path: nothing to clean up, nothing for systemd's ProtectSystem= or
 * PrivateTmp= to hide) created by the master, handed to each worker as an inherited fd and mapped
 * MAP_SHARED. A header, then a fixed-size open-addressing table of 16-byte slots
 * {key, state}: key is a keyed SipHash-2-4 of (limit, window, key text), 0 for an empty slot;
 * state packs the window's end (ms after the table's base on CLOCK_MONOTONIC, 40 bits) and the
 * window's hit count (24 bits, saturating). A slot whose window has ended is free.
 *
 * Lock-free: every change of a slot is one CMPXCHG16B of both words, so a process killed at any
 * point leaves every slot either before or after its change, never half-written and never locked.
 * A key lives in the first slot of its PROBE-slot run holding it; lookups scan the whole run,
 * since slots free up as windows end. Two processes inserting the same key at once may pick two
 * slots (one saw a slot still live that the other saw ended): after an insert the run is scanned
 * again and later copies are merged into the first, so no hit is lost (the answers given on the
 * later copy before the merge saw only its part of the count: a new key's first few hits).
 *
 * Full: when a key is absent and its run has no free slot, hit() returns NO_ROOM and the caller
 * counts that key elsewhere (corral: in the master, as before). So that a key is not counted in
 * both places, the table then takes no new keys until every window the caller may have started
 * elsewhere has ended (`overflow_until`: the hit's time + its window + OVERFLOW_MARGIN_MS). Where
 * the mark is set at the moment another process inserts the same key (it read the mark clear and
 * found a slot that the first saw live): the first scans again after setting the mark, and the
 * inserter reads the mark again after its insert and takes the insert back if it is still its
 * own single hit. What remains: a third process counting a hit on that fresh insert in the
 * ~100 ns before it is taken back; the first's hit is then not seen by the table (at most one hit
 * per process, once, as the table fills).
 *
 * Connection gauges: after the slots, `gauges` signed 64-bit counts, one per live worker (the
 * master gives each worker its own index and zeroes it when that worker has exited, so a worker
 * killed with connections open leaves none counted). A worker adds 1 to its own gauge when it
 * takes a connection and reads the host's total in the same call; over the host's cap, it takes
 * the 1 back and refuses. Two workers taking the last slot at once may both read the total over
 * the cap and both refuse (one of them could have been served): the total never exceeds the cap.
 *
 * Room wanted: a worker that refuses a connection at the host's cap with no idle connection of its
 * own to close (the kernel hands a new connection to any worker) counts one "room wanted" in the
 * header, for a short time; every worker looks at the count from a timer, and one that has an
 * idle connection takes one from the count and closes that connection, so the refused client's
 * retry finds a slot. One word {end, count} changed by compare-and-swap: each refusal is taken at
 * most once, so no more connections close than were refused, and the count lapses at its end
 * (a refusal nobody could make room for is not made room for much later, when it is not wanted).
 *
 * JS API:
 *   create(slots, gauges) -> fd    a new table of `slots` slots (a power of two, 64 to 2^26) and
 *                                  `gauges` connection gauges (1 to 65536)
 *   open(fd) -> table              maps a table created by create() (in this or a parent process)
 *   hit(table, key, limit, windowSeconds, peek) -> number
 *        -1: no room (count it elsewhere); else count * 2^27 + ms until the window ends, where
 *        count is the key's hits in its window after this one (peek: without counting; an
 *        absent or ended window reads 0 hits and 0 ms).
 *   slots(table) -> number
 *   gaugeAdd(table, index, delta) -> number   adds delta to gauge `index`; the host's total after
 *   gaugeReset(table, index) -> number        zeroes gauge `index` (its worker is gone); its count
 *   gauges(table) -> number
 *   roomWant(table, ttlMs, max) -> number   counts one refusal for want of room (at most `max`
 *                                           wanted at once); the count after. A count that has
 *                                           lapsed, or was all taken, starts again at 1, lapsing
 *                                           ttlMs from now
 *   roomTake(table) -> boolean              takes one from the count, if it has not lapsed
 *   roomWanted(table) -> number             the count, 0 once lapsed
 * Errors are thrown with code CORRAL_ERR_COUNTER_TABLE and, for a failed system call, its errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>
#include "counter_table.h"

static napi_value throw_code(napi_env env, const char *code, const char *message) {
  napi_value msg, err, c;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok) return NULL;
  if (napi_create_error(env, NULL, msg, &err) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c) == napi_ok) napi_set_named_property(env, err, "code", c);
  napi_throw(env, err);
  return NULL;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  char msg[200];
  snprintf(msg, sizeof msg, "host counter table: %s: %s", syscall, strerror(err));
  napi_value m, e, c, n;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m) != napi_ok) return NULL;
  if (napi_create_error(env, NULL, m, &e) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, "CORRAL_ERR_COUNTER_TABLE", NAPI_AUTO_LENGTH, &c) == napi_ok) napi_set_named_property(env, e, "code", c);
  if (napi_create_int32(env, err, &n) == napi_ok) napi_set_named_property(env, e, "errno", n);
  napi_throw(env, e);
  return NULL;
}

#define ARGS(n)                                                                             \
  size_t argc = (n);                                                                        \
  napi_value argv[(n)];                                                                     \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < (n))        \
    return throw_code(env, "CORRAL_ERR_COUNTER_TABLE", "host counter table: missing arguments");

static size_t table_len(uint64_t slots, uint64_t gauges) { return sizeof(header_t) + (size_t)slots * sizeof(slot_t) + (size_t)gauges * sizeof(int64_t); }

static napi_value Create(napi_env env, napi_callback_info info) {
  ARGS(2);
  int64_t slots = 0, gauges = 0;
  if (napi_get_value_int64(env, argv[0], &slots) != napi_ok || slots < MIN_SLOTS || slots > MAX_SLOTS || (slots & (slots - 1)) != 0)
    return throw_code(env, "CORRAL_ERR_COUNTER_TABLE", "host counter table: slots must be a power of two from 64 to 2^26");
  if (napi_get_value_int64(env, argv[1], &gauges) != napi_ok || gauges < 1 || gauges > MAX_GAUGES)
    return throw_code(env, "CORRAL_ERR_COUNTER_TABLE", "host counter table: gauges must be from 1 to 65536");
  size_t len = table_len((uint64_t)slots, (uint64_t)gauges);
  int fd = memfd_create("corral-host-counters", MFD_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "memfd_create");
  if (ftruncate(fd, (off_t)len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "ftruncate");
  }
  header_t *h = mmap(NULL, sizeof(header_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (h == MAP_FAILED) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "mmap");
  }
  uint64_t key[2];
  if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) {
    int err = errno;
    munmap(h, sizeof(header_t));
    close(fd);
    return throw_errno(env, err, "getrandom");
  }
  h->version = VERSION;
  h->probe = PROBE;
  h->slots = (uint64_t)slots;
  h->sip_k0 = key[0];
  h->sip_k1 = key[1];
  /* One below now, so that a window end is never 0 (0 is an ended window). */
  h->base_ms = ct_monotonic_ms() - 1;
  h->overflow_until = 0;
  h->gauges = (uint32_t)gauges;
  h->gauge_high = 0;
  h->room_wanted = 0;
  h->reserved = 0;
  /* Written last: open() refuses a table whose header is not complete. */
  __atomic_store_n(&h->magic, MAGIC, __ATOMIC_RELEASE);
  munmap(h, sizeof(header_t));
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

static void finalize_table(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  table_t *t = data;
  munmap(t->header, t->map_len);
  free(t);
}

static napi_value Open(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd = -1;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0)
    return throw_code(env, "CORRAL_ERR_COUNTER_TABLE", "host counter table: fd must be a file descriptor number");
  struct stat st;
  if (fstat(fd, &st) != 0) return throw_errno(env, errno, "fstat");
  if ((size_t)st.st_size < sizeof(header_t)) return throw_code(env, "CORRAL_ERR_COUNTER_TABLE", "host counter table: fd is not a counter table (too small)");
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return throw_errno(env, errno, "mmap");
  header_t *h = map;
  if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != MAGIC || h->version != VERSION || h->probe != PROBE ||
      h->slots < MIN_SLOTS || h->slots > MAX_SLOTS || (h->slots & (h->slots - 1)) != 0 ||
      h->gauges < 1 || h->gauges > MAX_GAUGES || (size_t)st.st_size != table_len(h->slots, h->gauges)) {
    munmap(map, (size_t)st.st_size);
    return throw_code(env, "CORRAL_ERR_COUNTER_TABLE", "host counter table: fd is not a counter table of this version");
  }
  table_t *t = malloc(sizeof *t);
  if (!t) {
    munmap(map, (size_t)st.st_size);
    return throw_errno(env, ENOMEM, "malloc");
  }
  t->header = h;
  t->slots = (slot_t *)((char *)map + sizeof(header_t));
  t->gauges = (int64_t *)((char *)t->slots + h->slots * sizeof(slot_t));
  t->map_len = (size_t)st.st_size;
  t->mask = h->slots - 1;
  napi_value out;
  if (napi_create_external(env, t, finalize_table, NULL, &out) != napi_ok) {
    finalize_table(env, t, NULL);
    return throw_code(env, "CORRAL_ERR_COUNTER_TABLE", "host counter table: napi_create_external failed");
  }
  return out;
}

static table_t *table_of(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) {
    throw_code(env, "CORRAL_ERR_COUNTER_TABLE", "host counter table: not a table from open()");
    return NULL;
  }
  return data;
}

static napi_value Hit(napi_env env, napi_callback_info info) {
  ARGS(5);
  table_t *t = table_of(env, argv[0]);
  if (!t) return NULL;
  int64_t limit = 0;
  int32_t window = 0;
  bool peek = false;
  if (napi_get_value_int64(env, argv[2], &limit) != napi_ok || napi_get_value_int32(env, argv[3], &window) != napi_ok ||
      window < 1 || window > 86400 || napi_get_value_bool(env, argv[4], &peek) != napi_ok)
    return throw_code(env, "CORRAL_ERR_COUNTER_TABLE", "host counter table: hit(table, key, limit, windowSeconds, peek)");
  /* The hashed text: limit and window first, so counters with another limit or window are apart. */
  uint8_t stack[512];
  uint8_t *buf = stack;
  size_t prefix = 12, len = 0;
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &len) != napi_ok)
    return throw_code(env, "CORRAL_ERR_COUNTER_TABLE", "host counter table: key must be a string");
  if (prefix + len + 1 > sizeof stack) {
    buf = malloc(prefix + len + 1);
    if (!buf) return throw_errno(env, ENOMEM, "malloc");
  }
  uint64_t l = (uint64_t)limit;
  uint32_t w = (uint32_t)window;
  memcpy(buf, &l, 8);
  memcpy(buf + 8, &w, 4);
  napi_get_value_string_utf8(env, argv[1], (char *)buf + prefix, len + 1, &len);
  double r = ct_hit(t, buf, prefix + len, (uint64_t)window * 1000u, peek);
  if (buf != stack) free(buf);
  napi_value out;
  napi_create_double(env, r, &out);
  return out;
}

static napi_value Slots(napi_env env, napi_callback_info info) {
  ARGS(1);
  table_t *t = table_of(env, argv[0]);
  if (!t) return NULL;
  napi_value out;
  napi_create_double(env, (double)t->header->slots, &out);
  return out;
}

/* The gauge index in argv[i], or -1 (an exception is pending) when it is not one of the table's. */
static int64_t gauge_index(napi_env env, table_t *t, napi_value v) {
  int64_t i = -1;
  if (napi_get_value_int64(env, v, &i) != napi_ok || i < 0 || i >= (int64_t)t->header->gauges) {
    throw_code(env, "CORRAL_ERR_COUNTER_TABLE", "host counter table: no such gauge");
    return -1;
  }
  return i;
}

static int64_t gauge_total(table_t *t) {
  uint32_t high = __atomic_load_n(&t->header->gauge_high, __ATOMIC_ACQUIRE);
  int64_t total = 0;
  for (uint32_t i = 0; i < high; i++) total += __atomic_load_n(&t->gauges[i], __ATOMIC_ACQUIRE);
  return total;
}

static napi_value GaugeAdd(napi_env env, napi_callback_info info) {
  ARGS(3);
  table_t *t = table_of(env, argv[0]);
  if (!t) return NULL;
  int64_t i = gauge_index(env, t, argv[1]);
  if (i < 0) return NULL;
  int64_t delta = 0;
  if (napi_get_value_int64(env, argv[2], &delta) != napi_ok) return throw_code(env, "CORRAL_ERR_COUNTER_TABLE", "host counter table: gaugeAdd(table, index, delta)");
  /* Raised before the add is visible, so every total read after the add includes it. */
  uint32_t high = __atomic_load_n(&t->header->gauge_high, __ATOMIC_ACQUIRE);
  while (high < (uint32_t)i + 1 &&
         !__atomic_compare_exchange_n(&t->header->gauge_high, &high, (uint32_t)i + 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
  }
  __atomic_add_fetch(&t->gauges[i], delta, __ATOMIC_SEQ_CST);
  napi_value out;
  napi_create_double(env, (double)gauge_total(t), &out);
  return out;
}

static napi_value GaugeReset(napi_env env, napi_callback_info info) {
  ARGS(2);
  table_t *t = table_of(env, argv[0]);
  if (!t) return NULL;
  int64_t i = gauge_index(env, t, argv[1]);
  if (i < 0) return NULL;
  napi_value out;
  napi_create_double(env, (double)__atomic_exchange_n(&t->gauges[i], 0, __ATOMIC_SEQ_CST), &out);
  return out;
}

static napi_value Gauges(napi_env env, napi_callback_info info) {
  ARGS(1);
  table_t *t = table_of(env, argv[0]);
  if (!t) return NULL;
  napi_value out;
  napi_create_double(env, (double)t->header->gauges, &out);
  return out;
}

static uint64_t table_now(table_t *t) { return ct_monotonic_ms() - t->header->base_ms; }

static napi_value RoomWant(napi_env env, napi_callback_info info) {
  ARGS(3);
  table_t *t = table_of(env, argv[0]);
  if (!t) return NULL;
  int64_t ttl = 0, max = 0;
  if (napi_get_value_int64(env, argv[1], &ttl) != napi_ok || ttl < 1 || ttl > 3600000 || napi_get_value_int64(env, argv[2], &max) != napi_ok || max < 1)
    return throw_code(env, "CORRAL_ERR_COUNTER_TABLE", "host counter table: roomWant(table, ttlMs, max)");
  uint64_t limit = (uint64_t)max < COUNT_MAX ? (uint64_t)max : COUNT_MAX;
  uint64_t now = table_now(t);
  uint64_t cur = __atomic_load_n(&t->header->room_wanted, __ATOMIC_ACQUIRE), next;
  /* The end is not pushed back by later refusals: a count lives ttlMs from its first refusal not
   * yet taken, then starts over. */
  do {
    int live = END_OF(cur) > now && COUNT_OF(cur) > 0;
    uint64_t end = live ? END_OF(cur) : now + (uint64_t)ttl;
    uint64_t count = live ? COUNT_OF(cur) : 0;
    next = STATE(end, count < limit ? count + 1 : limit);
  } while (!__atomic_compare_exchange_n(&t->header->room_wanted, &cur, next, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
  napi_value out;
  napi_create_double(env, (double)COUNT_OF(next), &out);
  return out;
}

static napi_value RoomTake(napi_env env, napi_callback_info info) {
  ARGS(1);
  table_t *t = table_of(env, argv[0]);
  if (!t) return NULL;
  uint64_t now = table_now(t);
  uint64_t cur = __atomic_load_n(&t->header->room_wanted, __ATOMIC_ACQUIRE);
  bool taken = false;
  while (END_OF(cur) > now && COUNT_OF(cur) > 0) {
    if (__atomic_compare_exchange_n(&t->header->room_wanted, &cur, STATE(END_OF(cur), COUNT_OF(cur) - 1), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      taken = true;
      break;
    }
  }
  napi_value out;
  napi_get_boolean(env, taken, &out);
  return out;
}

static napi_value RoomWanted(napi_env env, napi_callback_info info) {
  ARGS(1);
  table_t *t = table_of(env, argv[0]);
  if (!t) return NULL;
  uint64_t cur = __atomic_load_n(&t->header->room_wanted, __ATOMIC_ACQUIRE);
  napi_value out;
  napi_create_double(env, END_OF(cur) > table_now(t) ? (double)COUNT_OF(cur) : 0, &out);
  return out;
}

static napi_value Init(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback cb;
  } fns[] = {{"create", Create}, {"open", Open}, {"hit", Hit}, {"slots", Slots}, {"gaugeAdd", GaugeAdd}, {"gaugeReset", GaugeReset}, {"gauges", Gauges},
                 {"roomWant", RoomWant},     {"roomTake", RoomTake}, {"roomWanted", RoomWanted}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, fns[i].name, fn) != napi_ok) return NULL;
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
