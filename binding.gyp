# Native part of corral: three tiny addons. npm builds them with node-gyp during `npm ci` /
# `npm install` because this file exists (npm's default install script).
# - sd_notify: sends sd_notify(3) datagrams (see native/sd_notify.c for why Node cannot).
# - stack_probe: answers the master with the main thread's JavaScript stack over a socketpair,
#   even while that thread is stuck (native/stack_probe.cc); V8's C++ API, not N-API, as
#   Isolate::RequestInterrupt has no N-API counterpart.
# - host_counters: the host-wide rate-limit counters in memory shared by master and workers
#   (native/host_counters.c). Its slots change with one 16-byte compare-and-swap (CMPXCHG16B),
#   which gcc inlines only when told the CPU has it (-mcx16; every x86-64 CPU since 2006). Built on
#   x86-64 only, where it is tested: elsewhere it is not built, and the workers count through the
#   master (which logs counters.table_unavailable).
{
  "targets": [
    {
      "target_name": "sd_notify",
      "sources": ["native/sd_notify.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    },
    {
      "target_name": "stack_probe",
      "sources": ["native/stack_probe.cc"],
      "cflags_cc": ["-Wall", "-Wextra", "-Wno-cast-function-type", "-O2"]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "host_counters",
          "sources": ["native/host_counters.c", "native/counter_table.c"],
          "cflags": ["-Wall", "-Wextra", "-O2", "-mcx16"]
        }
      ]
    }]
  ]
}
