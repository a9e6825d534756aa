# Native part of corral: one tiny N-API addon that sends sd_notify(3) datagrams (see
# native/sd_notify.c for why Node cannot do this by itself). npm builds it with node-gyp during
# `npm ci` / `npm install` because this file exists (npm's default install script).
{
  "targets": [
    {
      "target_name": "sd_notify",
      "sources": ["native/sd_notify.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
