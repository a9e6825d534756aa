/*
 * The stack probe of a corral child: answers the master with the JavaScript stack of this
 * process's main thread, even while that thread is stuck in a busy loop.
 *
 * Why native, and why a pipe: the master used to send SIGUSR1, which opens the V8 inspector on a
 * loopback TCP port, and pause the child through it. The inspector has no authentication: for
 * the second before the kill, any local user could connect to that port and run code as corral's
 * user (the session secret, the login codes, the admin token). A worker_thread holding an
 * inspector session to the main thread would avoid the port, but costs every child a V8 isolate
 * (about 10 MB of RSS each). This probe is one small thread with a 64 KiB stack, and it listens
 * only on a socketpair the master created at the fork (an extra stdio fd): no other process can
 * reach it.
 *
 * How: the thread waits for a byte on the fd, asks V8 to interrupt the main thread
 * (Isolate::RequestInterrupt, callable from any thread; a busy loop services interrupts at its
 * stack checks, as it does the inspector's messages), and the interrupt reads
 * StackTrace::CurrentStackTrace and hands the frames back as one JSON line:
 *   [{"fn":"spin","url":"file:///app.mjs","line":12,"column":5}, ...]\n
 * or `null\n` when the main thread did not reach an interrupt check in time (stopped by a signal,
 * blocked in a system call).
 *
 * The master gone: end of file on the fd (or ECONNRESET, or EPIPE on an answer) comes only once
 * the master's end is closed, that is once the master exited or was killed; a master that merely
 * stalls (SIGSTOP, a long GC) keeps it open. The child's JavaScript hears of it too (its IPC
 * channel's 'disconnect') and exits, but never while its main thread is stuck: a worker in a
 * busy loop then spun on forever as an orphan, keeping its listening socket (each worker accepts
 * on its own), and a new corral could not bind the port. So, when start() was given an exit code,
 * this thread waits `grace_ms` (time for the JavaScript path to exit first and log why) and, if
 * the process is still there, writes one log line and ends it with _exit(exit_code). Not
 * PR_SET_PDEATHSIG: it gives no grace, kills at once a healthy child that would have logged why
 * and closed its journal, and follows the forking thread rather than the master process.
 *
 * JS API: start(fd: number, exitCode?: number, graceMs?: number, logFile?: string, line?: string)
 *   -> undefined; throws on a bad fd or when the thread cannot start. Without exitCode, the
 *   master's end closing only ends the thread. `line` is a JSON object's text (its fields, already
 *   escaped) written as `{"level":"error","time":"<ISO time>",<line's fields>}\n`, appended to
 *   `logFile` when it is non-empty and can be opened, else to stderr.
 * Started once per process, from the main thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include <node.h>
#include <v8.h>

namespace {

constexpr int kMaxFrames = 30;
/* How long the thread waits for the interrupt; the master waits a little longer for the answer. */
constexpr int kCaptureWaitMs = 800;

v8::Isolate *main_isolate = nullptr;
int probe_fd = -1;
bool started = false;

/* What to do when the master is gone, set by start() before the thread runs; exit_code < 0: nothing. */
int orphan_exit_code = -1;
int orphan_grace_ms = 0;
std::string orphan_log_file;
std::string orphan_line;

pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t captured = PTHREAD_COND_INITIALIZER;
/* The capture asked last, and the last one an interrupt answered: an interrupt that comes after
 * its asker gave up (a later generation asked meanwhile) is dropped, never written late. */
uint64_t asked = 0;
uint64_t answered = 0;
std::string answer;

void AppendJsonString(std::string &out, const char *s) {
  out.push_back('"');
  for (const unsigned char *p = reinterpret_cast<const unsigned char *>(s); p && *p; p++) {
    unsigned char c = *p;
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

/* Runs on the main thread, at a point where V8 lets interrupts in; must not run JavaScript. */
void Capture(v8::Isolate *isolate, void *data) {
  const uint64_t generation = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data));
  v8::HandleScope scope(isolate);
  v8::Local<v8::StackTrace> trace = v8::StackTrace::CurrentStackTrace(isolate, kMaxFrames, v8::StackTrace::kDetailed);
  std::string json = "[";
  const int count = trace->GetFrameCount();
  for (int i = 0; i < count; i++) {
    v8::Local<v8::StackFrame> frame = trace->GetFrame(isolate, i);
    v8::String::Utf8Value fn(isolate, frame->GetFunctionName());
    v8::String::Utf8Value url(isolate, frame->GetScriptNameOrSourceURL());
    if (i > 0) json.push_back(',');
    json += "{\"fn\":";
    AppendJsonString(json, *fn && **fn ? *fn : "(anonymous)");
    json += ",\"url\":";
    AppendJsonString(json, *url ? *url : "");
    json += ",\"line\":" + std::to_string(frame->GetLineNumber());
    json += ",\"column\":" + std::to_string(frame->GetColumn()) + "}";
  }
  json += "]";
  pthread_mutex_lock(&lock);
  if (generation == asked) {
    answer = std::move(json);
    answered = generation;
    pthread_cond_signal(&captured);
  }
  pthread_mutex_unlock(&lock);
}

/* Writes all of `text`, waiting for room when the fd is non-blocking; false when the peer is gone. */
bool WriteAll(int fd, const std::string &text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd p = {fd, POLLOUT, 0};
      const int ready = poll(&p, 1, 1000);
      if (ready == 0) errno = ETIMEDOUT; /* the master not reading: not gone */
      if (ready <= 0) return false;
    } else {
      return false;
    }
  }
  return true;
}

std::string CaptureOnce() {
  pthread_mutex_lock(&lock);
  const uint64_t generation = ++asked;
  pthread_mutex_unlock(&lock);
  main_isolate->RequestInterrupt(Capture, reinterpret_cast<void *>(static_cast<uintptr_t>(generation)));
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += kCaptureWaitMs / 1000;
  until.tv_nsec += static_cast<long>(kCaptureWaitMs % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec += 1;
    until.tv_nsec -= 1000000000L;
  }
  std::string out = "null";
  pthread_mutex_lock(&lock);
  while (answered != generation) {
    if (pthread_cond_timedwait(&captured, &lock, &until) == ETIMEDOUT) break;
  }
  if (answered == generation) out = std::move(answer);
  pthread_mutex_unlock(&lock);
  return out + "\n";
}

/* Sleeps `ms`, through signals that interrupt the sleep. */
void SleepMs(int ms) {
  struct timespec left = {ms / 1000, static_cast<long>(ms % 1000) * 1000000L};
  while (nanosleep(&left, &left) == -1 && errno == EINTR) {
  }
}

/* `{"level":"error","time":"2026-01-02T03:04:05.678Z",` + the rest of orphan_line + newline. */
std::string OrphanLogLine() {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm utc;
  gmtime_r(&now.tv_sec, &utc);
  char stamp[64];
  const size_t len = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(stamp + len, sizeof stamp - len, ".%03ldZ", now.tv_nsec / 1000000L);
  std::string out = "{\"level\":\"error\",\"time\":\"";
  out += stamp;
  out += "\"";
  if (orphan_line.size() > 2 && orphan_line.front() == '{') out += "," + orphan_line.substr(1);
  else out += "}";
  return out + "\n";
}

/*
 * The master is gone and the JavaScript path did not end this process within the grace: says so
 * where the operator reads the log, then exits. One write() each, never a wait: stderr is a pipe
 * to the dead master (EPIPE; Node ignores SIGPIPE), and a pipe with a live reader that is full
 * is skipped rather than waited on.
 */
[[noreturn]] void ExitOrphan() {
  SleepMs(orphan_grace_ms);
  const std::string line = OrphanLogLine();
  bool written = false;
  if (!orphan_log_file.empty()) {
    /* No O_CREAT: a log file removed meanwhile is the logger's to make again, with its mode. */
    const int fd = open(orphan_log_file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd >= 0) {
      struct stat st;
      if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
      close(fd);
    }
  }
  if (!written) {
    struct pollfd p = {2, POLLOUT, 0};
    if (poll(&p, 1, 0) == 1 && (p.revents & POLLOUT)) {
      ssize_t ignored = write(2, line.data(), line.size());
      (void)ignored;
    }
  }
  /* _exit, not exit(): atexit handlers and static destructors would run beside a live V8. */
  _exit(orphan_exit_code);
}

void *ProbeThread(void *) {
  bool master_gone = false;
  for (;;) {
    char request[64];
    ssize_t n = read(probe_fd, request, sizeof request);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd p = {probe_fd, POLLIN, 0};
      poll(&p, 1, -1);
      continue;
    }
    /* The master closed its end (ECONNRESET: it died with an answer of ours unread). */
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      master_gone = true;
      break;
    }
    if (n < 0) break; /* the fd is unusable: no stacks, and no word of the master */
    if (!WriteAll(probe_fd, CaptureOnce())) {
      master_gone = errno == EPIPE || errno == ECONNRESET;
      break;
    }
  }
  close(probe_fd);
  if (master_gone && orphan_exit_code >= 0) ExitOrphan();
  return nullptr;
}

void Start(const v8::FunctionCallbackInfo<v8::Value> &args) {
  v8::Isolate *isolate = args.GetIsolate();
  if (started) {
    isolate->ThrowException(v8::Exception::Error(v8::String::NewFromUtf8Literal(isolate, "the stack probe is already started")));
    return;
  }
  if (args.Length() < 1 || !args[0]->IsInt32() || args[0].As<v8::Int32>()->Value() < 0) {
    isolate->ThrowException(v8::Exception::TypeError(v8::String::NewFromUtf8Literal(isolate, "start(fd): fd must be a non-negative integer")));
    return;
  }
  if (args.Length() >= 2 && !args[1]->IsUndefined()) {
    if (!args[1]->IsInt32() || args[1].As<v8::Int32>()->Value() < 0 || args[1].As<v8::Int32>()->Value() > 255 ||
        args.Length() < 3 || !args[2]->IsInt32() || args[2].As<v8::Int32>()->Value() < 0) {
      isolate->ThrowException(v8::Exception::TypeError(v8::String::NewFromUtf8Literal(isolate, "start(fd, exitCode, graceMs, logFile, line): exitCode must be 0-255 and graceMs a non-negative integer")));
      return;
    }
    orphan_exit_code = args[1].As<v8::Int32>()->Value();
    orphan_grace_ms = args[2].As<v8::Int32>()->Value();
    if (args.Length() >= 4 && args[3]->IsString()) {
      v8::String::Utf8Value file(isolate, args[3]);
      if (*file) orphan_log_file = *file;
    }
    if (args.Length() >= 5 && args[4]->IsString()) {
      v8::String::Utf8Value line(isolate, args[4]);
      if (*line) orphan_line = *line;
    }
  }
  main_isolate = isolate;
  probe_fd = args[0].As<v8::Int32>()->Value();
  /* Inherited without close-on-exec: every process the app spawns would hold the master's probe. */
  if (fcntl(probe_fd, F_SETFD, FD_CLOEXEC) == -1) {
    char msg[120];
    snprintf(msg, sizeof msg, "fd %d is not open: %s", probe_fd, strerror(errno));
    isolate->ThrowException(v8::Exception::Error(v8::String::NewFromUtf8(isolate, msg).ToLocalChecked()));
    return;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  const int err = pthread_create(&thread, &attr, ProbeThread, nullptr);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    char msg[120];
    snprintf(msg, sizeof msg, "the stack probe's thread could not start: %s", strerror(err));
    isolate->ThrowException(v8::Exception::Error(v8::String::NewFromUtf8(isolate, msg).ToLocalChecked()));
    return;
  }
  started = true;
}

}  // namespace

NODE_MODULE_INIT(/* exports, module, context */) {
  v8::Isolate *isolate = context->GetIsolate();
  exports
      ->Set(context, v8::String::NewFromUtf8Literal(isolate, "start"),
            v8::FunctionTemplate::New(isolate, Start)->GetFunction(context).ToLocalChecked())
      .Check();
}
