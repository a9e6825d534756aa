/*
 * sd_notify(3) transport for corral: sends one datagram to $NOTIFY_SOCKET.
 *
 * Why a native addon: Node has no AF_UNIX SOCK_DGRAM sockets (node:dgram is UDP only, node:net
 * is stream only). The alternatives were weighed in README.md (Operations):
 *  - spawning systemd-notify(1): the message then comes from a short-lived child, not the main
 *    PID, so it needs NotifyAccess=all, and systemd attributes a message by reading
 *    /proc/<sender>/cgroup, which is gone once the child exited: messages are dropped at random
 *    (systemd issue #2737); --pid= forging needs CAP_SYS_ADMIN, which the service user lacks.
 *  - the unix-dgram package: copies the address with strncpy and a fixed sizeof(sockaddr_un)
 *    length, so it cannot reach abstract-namespace sockets ("@name"), which sd_notify supports.
 * This file does exactly what libsystemd's sd_notify does for the AF_UNIX case, from the
 * calling process (the service's main pid, so no NotifyAccess=all), with MSG_DONTWAIT so that
 * a busy or hung PID 1 can never block the master's event loop.
 *
 * JS API: send(address: string, payload: Buffer) -> undefined; throws an Error whose `code` is
 * the errno name (ENOENT, ECONNREFUSED, EAGAIN, ...) and whose `errno` is the number.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <node_api.h>

#define CHECK(call)                                                                   \
  do {                                                                                \
    if ((call) != napi_ok) {                                                          \
      napi_throw_error(env, "CORRAL_ERR_NOTIFY", "sd_notify addon: N-API call failed"); \
      return NULL;                                                                    \
    }                                                                                 \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value message, error, code, num;
  /* errno names for the cases an operator may meet; anything else gets "E<number>". */
  const char *name = err == ENOENT ? "ENOENT" : err == ECONNREFUSED ? "ECONNREFUSED"
                   : err == EAGAIN ? "EAGAIN" : err == EACCES ? "EACCES" : err == EPERM ? "EPERM"
                   : err == ENOBUFS ? "ENOBUFS" : err == EMSGSIZE ? "EMSGSIZE"
                   : err == ENAMETOOLONG ? "ENAMETOOLONG" : err == EINVAL ? "EINVAL" : NULL;
  char fallback[24];
  if (!name) {
    snprintf(fallback, sizeof fallback, "E%d", err);
    name = fallback;
  }
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok) return NULL;
  if (napi_create_error(env, NULL, message, &error) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) == napi_ok)
    napi_set_named_property(env, error, "code", code);
  if (napi_create_int32(env, err, &num) == napi_ok) napi_set_named_property(env, error, "errno", num);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &code) == napi_ok)
    napi_set_named_property(env, error, "syscall", code);
  napi_throw(env, error);
  return NULL;
}

static napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "send(address, payload) needs two arguments");
    return NULL;
  }

  char address[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  size_t address_len = 0, full_len = 0;
  /* The whole name's length first: a copy cut at the buffer's size stops before a character that
   * does not fit whole, so a longer name with a multi-byte character near the end came out shorter
   * than the buffer, passed the length check below and was sent to the name's first bytes. */
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &full_len) != napi_ok ||
      napi_get_value_string_utf8(env, argv[0], address, sizeof address, &address_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "address must be a string");
    return NULL;
  }
  bool is_buffer = false;
  CHECK(napi_is_buffer(env, argv[1], &is_buffer));
  if (!is_buffer) {
    napi_throw_type_error(env, NULL, "payload must be a Buffer");
    return NULL;
  }
  void *data = NULL;
  size_t data_len = 0;
  CHECK(napi_get_buffer_info(env, argv[1], &data, &data_len));

  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (full_len != address_len || address_len < 2 || address_len >= sizeof sa.sun_path || (address[0] != '/' && address[0] != '@'))
    return throw_errno(env, full_len >= sizeof sa.sun_path ? ENAMETOOLONG : EINVAL, "sockaddr");
  memcpy(sa.sun_path, address, address_len);
  socklen_t sa_len;
  if (address[0] == '@') {
    /* Abstract namespace: the name is every byte after the leading NUL, with no terminator,
     * so the length must be exact (systemd binds it that way). */
    sa.sun_path[0] = '\0';
    sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + address_len);
  } else {
    sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + address_len + 1);
  }

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  ssize_t n;
  do {
    n = sendto(fd, data, data_len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, sa_len);
  } while (n < 0 && errno == EINTR);
  int err = n < 0 ? errno : 0;
  close(fd);
  if (err) return throw_errno(env, err, "sendto");
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "send", NAPI_AUTO_LENGTH, Send, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "send", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
