// A SOCK_SEQPACKET client socket on Node's event loop, for conmon's attach socket (docs/conmon.md).
// What node-unix-socket 0.2.7 lacks and berthd needs: reading can be stopped (uv_poll_stop), so a client
// that does not take the container's output makes conmon's write block, as Docker's and podman's do.
// One record per recv; the records of one readable event (up to `budget` bytes) reach JS as one array.
// JS API (src/sys/seqpacket.ts wraps it):
//   connect(path, onEvent, budget) -> handle   onEvent(kind, value): 0 records (Buffer[]), 1 end,
//                                              2 error (code string), 3 drain (queued writes went out)
//   start(h) / stop(h)     read or not
//   write(h, buf) -> bool  true: sent; false: queued (the peer's buffer is full), 'drain' follows
//   shutdown(h)            SHUT_WR once queued writes are out
//   close(h)               no event after it; safe from inside onEvent
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

// conmon's records are at most 8193 bytes; a bigger buffer tells a record apart from a cut one.
#define RECV_MAX (64 * 1024 + 1)

enum { EV_RECORDS = 0, EV_END = 1, EV_ERROR = 2, EV_DRAIN = 3 };

typedef struct wreq {
  struct wreq *next;
  size_t len;
  char data[];
} wreq;

typedef struct {
  uv_poll_t poll;
  int fd;
  napi_env env;
  napi_ref cb;
  napi_async_context actx;
  int reading, closed, done, shut_after, released, finalized;
  size_t budget;
  wreq *head, *tail;
  char *rbuf;
} sock_t;

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, #call " failed"); return NULL; } } while (0)

static void throw_errno(napi_env env, int err, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, uv_err_name(-err), msg);
}

static void on_poll(uv_poll_t *h, int status, int events);
static void finalize(napi_env env, void *data, void *hint);

static void update_poll(sock_t *s) {
  if (s->closed) return;
  int ev = (s->reading && !s->done ? UV_READABLE : 0) | (s->head && !s->done ? UV_WRITABLE : 0);
  if (ev == 0) uv_poll_stop(&s->poll);
  else uv_poll_start(&s->poll, ev, on_poll);
}

static void emit(sock_t *s, int kind, napi_value value) {
  napi_env env = s->env;
  napi_value fn, recv, argv[2], result;
  if (napi_get_reference_value(env, s->cb, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &recv); // make_callback wants an object for `this`
  napi_create_int32(env, kind, &argv[0]);
  if (value) argv[1] = value; else napi_get_undefined(env, &argv[1]);
  if (napi_make_callback(env, s->actx, recv, fn, 2, argv, &result) == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

static void emit_error(sock_t *s, int err) {
  napi_value code;
  s->done = 1;
  update_poll(s);
  napi_create_string_utf8(s->env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  emit(s, EV_ERROR, code);
}

static void do_read(sock_t *s) {
  napi_env env = s->env;
  napi_value arr = NULL;
  uint32_t n = 0;
  size_t total = 0;
  int eof = 0, err = 0;
  while (total < s->budget) {
    ssize_t r = recv(s->fd, s->rbuf, RECV_MAX, MSG_DONTWAIT);
    if (r > 0) {
      napi_value buf;
      void *data;
      if (arr == NULL) napi_create_array(env, &arr);
      napi_create_buffer_copy(env, (size_t)r, s->rbuf, &data, &buf);
      napi_set_element(env, arr, n++, buf);
      total += (size_t)r;
    } else if (r == 0) {
      eof = 1;
      break;
    } else if (errno == EINTR) {
      continue;
    } else {
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      break;
    }
  }
  if (n > 0) emit(s, EV_RECORDS, arr);
  if (s->closed) return;
  if (eof) {
    s->done = 1;
    update_poll(s);
    emit(s, EV_END, NULL);
  } else if (err) {
    emit_error(s, err);
  }
}

// 1 when the queue is empty, 0 when the peer is full, -errno on failure
static int flush_writes(sock_t *s) {
  while (s->head) {
    wreq *w = s->head;
    ssize_t r = send(s->fd, w->data, w->len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -errno;
    }
    s->head = w->next;
    if (!s->head) s->tail = NULL;
    free(w);
  }
  if (s->shut_after) { shutdown(s->fd, SHUT_WR); s->shut_after = 0; }
  return 1;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  sock_t *s = (sock_t *)h->data;
  napi_handle_scope scope;
  if (s->closed) return;
  napi_open_handle_scope(s->env, &scope);
  if (status < 0) {
    emit_error(s, -status);
  } else {
    if ((events & UV_WRITABLE) && s->head) {
      int r = flush_writes(s);
      if (r < 0) emit_error(s, -r);
      else if (r == 1) { update_poll(s); emit(s, EV_DRAIN, NULL); }
    }
    if (!s->closed && !s->done && s->reading && (events & (UV_READABLE | UV_DISCONNECT))) do_read(s);
  }
  napi_close_handle_scope(s->env, scope);
}

static sock_t *get_sock(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value args[2];
  size_t n = 2;
  void *p = NULL;
  if (napi_get_cb_info(env, info, &n, args, NULL, NULL) != napi_ok || n < 1 ||
      napi_get_value_external(env, args[0], &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "expected a seqpacket handle");
    return NULL;
  }
  if (argc) *argc = n;
  if (argv && n > 1) argv[0] = args[1];
  return (sock_t *)p;
}

static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[3], handle, name;
  size_t argc = 3, len;
  char path[4096];
  uint32_t budget;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &budget) != napi_ok) {
    napi_throw_type_error(env, NULL, "connect(path, onEvent, budget)");
    return NULL;
  }
  if (len >= sizeof path - 1) { throw_errno(env, ENAMETOOLONG, "connect"); return NULL; }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  int dirfd = -1;
  if (len < sizeof addr.sun_path) {
    memcpy(addr.sun_path, path, len + 1);
  } else {
    // longer than sun_path: through an O_PATH fd of its directory, as conmon binds it and podman connects
    char *slash = strrchr(path, '/');
    if (!slash) { throw_errno(env, ENAMETOOLONG, "connect"); return NULL; }
    *slash = '\0';
    dirfd = open(path[0] ? path : "/", O_PATH | O_CLOEXEC);
    if (dirfd < 0) { throw_errno(env, errno, "connect: open directory"); return NULL; }
    int w = snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dirfd, slash + 1);
    if (w < 0 || (size_t)w >= sizeof addr.sun_path) { close(dirfd); throw_errno(env, ENAMETOOLONG, "connect"); return NULL; }
  }
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { int e = errno; if (dirfd >= 0) close(dirfd); throw_errno(env, e, "socket"); return NULL; }
  int rc;
  do { rc = connect(fd, (struct sockaddr *)&addr, sizeof addr); } while (rc < 0 && errno == EINTR);
  int e = errno;
  if (dirfd >= 0) close(dirfd);
  if (rc < 0) { close(fd); throw_errno(env, e, "connect"); return NULL; }

  sock_t *s = calloc(1, sizeof *s);
  if (s) s->rbuf = malloc(RECV_MAX);
  if (!s || !s->rbuf) { free(s); close(fd); throw_errno(env, ENOMEM, "connect"); return NULL; }
  s->fd = fd;
  s->env = env;
  s->budget = budget > 0 ? budget : RECV_MAX;
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  uv_poll_init_socket(loop, &s->poll, fd);
  s->poll.data = s;
  CHECK(napi_create_reference(env, argv[1], 1, &s->cb));
  CHECK(napi_create_string_utf8(env, "berth:seqpacket", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &s->actx));
  CHECK(napi_create_external(env, s, finalize, NULL, &handle));
  return handle;
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  sock_t *s = get_sock(env, info, NULL, NULL);
  if (s && !s->closed) { s->reading = 1; update_poll(s); }
  return NULL;
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  sock_t *s = get_sock(env, info, NULL, NULL);
  if (s && !s->closed) { s->reading = 0; update_poll(s); }
  return NULL;
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  napi_value arg, result;
  size_t argc;
  void *data;
  size_t len;
  sock_t *s = get_sock(env, info, &argc, &arg);
  if (!s) return NULL;
  if (argc < 2 || napi_get_buffer_info(env, arg, &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "write(handle, buffer)");
    return NULL;
  }
  if (s->closed || s->done) { throw_errno(env, EPIPE, "write"); return NULL; }
  int sent = 0;
  if (!s->head) {
    ssize_t r;
    do { r = send(s->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL); } while (r < 0 && errno == EINTR);
    if (r >= 0) sent = 1;
    else if (errno != EAGAIN && errno != EWOULDBLOCK) { throw_errno(env, errno, "write"); return NULL; }
  }
  if (!sent) {
    wreq *w = malloc(sizeof *w + len);
    if (!w) { throw_errno(env, ENOMEM, "write"); return NULL; }
    w->next = NULL;
    w->len = len;
    memcpy(w->data, data, len);
    if (s->tail) s->tail->next = w; else s->head = w;
    s->tail = w;
    update_poll(s);
  }
  napi_get_boolean(env, sent, &result);
  return result;
}

static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  sock_t *s = get_sock(env, info, NULL, NULL);
  if (!s || s->closed) return NULL;
  if (s->head) s->shut_after = 1; else shutdown(s->fd, SHUT_WR);
  return NULL;
}

static void on_closed(uv_handle_t *h) {
  sock_t *s = (sock_t *)h->data;
  close(s->fd);
  while (s->head) { wreq *w = s->head; s->head = w->next; free(w); }
  napi_delete_reference(s->env, s->cb);
  napi_async_destroy(s->env, s->actx);
  free(s->rbuf);
  s->rbuf = NULL;
  // the JS handle may outlive the socket: the struct goes with whichever of the two ends last
  if (s->finalized) free(s); else s->released = 1;
}

static void close_sock(sock_t *s) {
  s->closed = 1;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_closed);
}

static void finalize(napi_env env, void *data, void *hint) {
  sock_t *s = (sock_t *)data;
  s->finalized = 1;
  if (!s->closed) close_sock(s);
  else if (s->released) free(s);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  sock_t *s = get_sock(env, info, NULL, NULL);
  if (s && !s->closed) close_sock(s);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
    {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
    {"stop", NULL, js_stop, NULL, NULL, NULL, napi_default, NULL},
    {"write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
    {"shutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
