// One relay: two connected, non-blocking fds (client, upstream) and the bytes between them, on the worker's loop.
//   - Copy: recv into the worker's scratch CHUNK and send at once; only what the writer could not take is kept, in a
//     buffer of exactly that size, and that direction stops reading until it is written (at most one CHUNK waits per
//     direction: backpressure). An idle session holds no buffer.
//   - Splice: a read that fills CHUNK marks the direction bulk; it then moves through a pipe from the worker's pool
//     with splice(2) (no copy into user space) until a read comes back small, when the pipe goes back.
//   - Half-close: a FIN read from one side is passed on (shutdown(SHUT_WR)) once its direction is drained; the other
//     direction keeps flowing. Both FINs passed → Done.
//   - One poll handle per fd, its interest changed only when the wanted mask changes; one idle timer per relay,
//     re-armed lazily from the time of the last event.
//   - Every failure is an end reason on the relay; nothing here aborts the process.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "sluice.h"

static inline uint32_t pending(const dir_t *d) { return (d->len - d->off) + d->in_pipe; }

static void on_poll(uv_poll_t *h, int status, int events);
static void on_closed(uv_handle_t *h);

void relay_push_record(relay_env_t *e, double id, int code, double a, double b) {
  if (e->closing) return;
  if (e->queue_len + RECORD_FIELDS > e->queue_cap) {
    size_t cap = e->queue_cap == 0 ? 1024 : e->queue_cap * 2;
    double *q = realloc(e->queue, cap * sizeof(double));
    if (q == NULL) return; // out of memory: the session's record is lost, the session itself is closed
    e->queue = q;
    e->queue_cap = cap;
  }
  double *q = e->queue + e->queue_len;
  q[0] = id;
  q[1] = code;
  q[2] = a;
  q[3] = b;
  e->queue_len += RECORD_FIELDS;
  if (!e->flush_active) {
    e->flush_active = 1;
    uv_check_start(&e->flush, relay_flush_records);
  }
}

// A synchronous call into JavaScript from a libuv callback (a listener's accept, a dial's failure). A throw there
// is a bug in TypeScript: it becomes the worker's uncaught exception.
void env_call(relay_env_t *e, napi_ref fn, size_t argc, napi_value *argv) {
  napi_value cb, recv;
  napi_get_reference_value(e->env, fn, &cb);
  napi_get_reference_value(e->env, e->receiver, &recv);
  if (napi_make_callback(e->env, e->async_ctx, recv, cb, argc, argv, NULL) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(e->env, &err);
    napi_fatal_exception(e->env, err);
  }
}

// Once per loop turn while records wait: hands them to JavaScript in chunks of its Float64Array.
void relay_flush_records(uv_check_t *h) {
  relay_env_t *e = h->data;
  if (e->closing || e->queue_len == 0) {
    e->queue_len = 0;
    uv_check_stop(&e->flush);
    e->flush_active = 0;
    return;
  }
  napi_env env = e->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, arg;
  napi_get_reference_value(env, e->on_end, &cb);
  napi_get_reference_value(env, e->receiver, &recv);
  size_t at = 0;
  // Copy out first: a callback may end more sessions (their records go to the next turn).
  size_t total = e->queue_len;
  while (at < total) {
    size_t n = (total - at) / RECORD_FIELDS;
    if (n > e->records_cap) n = e->records_cap;
    memcpy(e->records, e->queue + at, n * RECORD_FIELDS * sizeof(double));
    at += n * RECORD_FIELDS;
    napi_create_uint32(env, (uint32_t)n, &arg);
    napi_status st = napi_make_callback(env, e->async_ctx, recv, cb, 1, &arg, NULL);
    if (st == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
  memmove(e->queue, e->queue + total, (e->queue_len - total) * sizeof(double));
  e->queue_len -= total;
  napi_close_handle_scope(env, scope);
  if (e->queue_len == 0) {
    uv_check_stop(&e->flush);
    e->flush_active = 0;
  }
}

int relay_set_mask(relay_t *r, int k, int want) {
  if (want == r->mask[k]) return 0;
  r->mask[k] = want;
  if (want == 0) return uv_poll_stop(&r->poll[k]);
  return uv_poll_start(&r->poll[k], want, on_poll);
}

// Writes what direction i holds. 0: done or would block; -1: the destination failed.
static int dir_flush(relay_t *r, int i) {
  dir_t *d = &r->d[i];
  int dst = r->fd[1 - i];
  while (d->len > d->off) {
    ssize_t w = send(dst, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -1;
    }
    d->off += (uint32_t)w;
    d->written += (uint64_t)w;
  }
  if (d->buf != NULL) {
    free(d->buf);
    d->buf = NULL;
    d->off = d->len = 0;
  }
  while (d->in_pipe > 0) {
    ssize_t w = splice(d->pipe[0], NULL, dst, NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -1;
    }
    d->in_pipe -= (uint32_t)w;
    d->written += (uint64_t)w;
  }
  if (!d->bulk && d->pipe[0] >= 0) pipe_put(&r->e->pipes, d->pipe, 1);
  return 0;
}

enum { READ_RETRY, READ_STOP, READ_FAILED };

// A read (recv or splice) that moved nothing: the FIN (marked), would block, interrupted, or the source failed.
static int read_end(dir_t *d, ssize_t n) {
  if (n == 0) {
    d->eof = 1;
    return READ_STOP;
  }
  if (errno == EINTR) return READ_RETRY;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return READ_STOP;
  return READ_FAILED;
}

// Reads direction i's source while nothing waits. 0: fine; -1: the source failed; -2: the destination failed.
static int dir_read(relay_t *r, int i) {
  relay_env_t *e = r->e;
  dir_t *d = &r->d[i];
  int src = r->fd[i], dst = r->fd[1 - i];
  for (int turn = 0; turn < 4 && !d->eof && pending(d) == 0; turn++) {
    if (d->bulk && d->pipe[0] < 0 && pipe_get(&e->pipes, d->pipe) != 0) d->bulk = 0; // no pipe free: copy
    int piped = d->pipe[0] >= 0;
    // piped: the pipe is empty when we read, so EAGAIN means the socket is
    ssize_t n = piped ? splice(src, NULL, d->pipe[1], NULL, CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
                      : recv(src, e->scratch, CHUNK, MSG_DONTWAIT);
    if (n <= 0) {
      int rc = read_end(d, n);
      if (rc == READ_RETRY) continue;
      if (rc == READ_STOP) break;
      return -1;
    }
    d->read += (uint64_t)n;
    if (piped) {
      d->in_pipe = (uint32_t)n;
      if (n < SMALL_READ) d->bulk = 0; // the pipe goes back once drained (dir_flush)
      if (dir_flush(r, i) != 0) return -2;
      if (n < CHUNK) break;
      continue;
    }
    ssize_t w = send(dst, e->scratch, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -2;
      w = 0;
    }
    d->written += (uint64_t)w;
    if (w < n) {
      d->buf = malloc((size_t)(n - w));
      if (d->buf == NULL) { relay_finish(r, END_INTERNAL); return 0; }
      memcpy(d->buf, e->scratch + w, (size_t)(n - w));
      d->off = 0;
      d->len = (uint32_t)(n - w);
    }
    if (n == CHUNK) d->bulk = 1;
    else break;
  }
  return 0;
}

// After any progress: pass on drained FINs, end when both are passed, else poll for what is wanted.
static void settle(relay_t *r) {
  if (r->reason) return;
  for (int i = 0; i < 2; i++) {
    dir_t *d = &r->d[i];
    if (d->eof && !d->shut && pending(d) == 0) {
      d->shut = 1;
      if (shutdown(r->fd[1 - i], SHUT_WR) != 0 && errno != ENOTCONN) {
        relay_finish(r, i == 0 ? END_UPSTREAM_RESET : END_CLIENT_CLOSED);
        return;
      }
    }
  }
  if (r->d[0].shut && r->d[1].shut) {
    relay_finish(r, END_DONE);
    return;
  }
  for (int k = 0; k < 2; k++) {
    int want = 0;
    if (!r->d[k].eof && pending(&r->d[k]) == 0) want |= UV_READABLE;
    if (pending(&r->d[1 - k]) > 0) want |= UV_WRITABLE;
    if (relay_set_mask(r, k, want) != 0) {
      relay_finish(r, END_INTERNAL);
      return;
    }
  }
}

static inline int side_reason(int k) { return k == 0 ? END_CLIENT_CLOSED : END_UPSTREAM_RESET; }

static void on_poll(uv_poll_t *h, int status, int events) {
  relay_t *r = h->data;
  if (r->reason) return;
  int k = h == &r->poll[0] ? 0 : 1;
  if (r->dialing) {
    dial_on_poll(r, k, status, events);
    return;
  }
  r->last_active = uv_now(r->e->loop);
  if (status < 0) {
    // POLLERR: the socket has a pending error (a reset) and libuv stopped the handle. What the peer sent before it
    // is still readable (recv returns it before the error): pass it on, then end with this side's reason.
    r->mask[k] = 0;
    int rc = dir_read(r, k);
    if (!r->reason) relay_finish(r, rc == -2 ? side_reason(1 - k) : side_reason(k));
    return;
  }
  if ((events & UV_WRITABLE) && dir_flush(r, 1 - k) != 0) {
    relay_finish(r, side_reason(k));
    return;
  }
  if (events & UV_READABLE) {
    int rc = dir_read(r, k);
    if (r->reason) return;
    if (rc == -1) { relay_finish(r, side_reason(k)); return; }
    if (rc == -2) { relay_finish(r, side_reason(1 - k)); return; }
  }
  settle(r);
}

void relay_on_timer(uv_timer_t *t) {
  relay_t *r = t->data;
  if (r->reason) return;
  if (r->dialing) {
    dial_on_timer(r);
    return;
  }
  uint64_t idle = uv_now(r->e->loop) - r->last_active;
  if (idle >= r->idle_ms) relay_finish(r, END_IDLE_TIMEOUT);
  else uv_timer_start(&r->timer, relay_on_timer, r->idle_ms - idle, 0);
}

static void on_closed(uv_handle_t *h) {
  relay_t *r = h->data;
  if (--r->closes > 0) return;
  relay_env_t *e = r->e;
  free(r);
  env_handle_closed(e);
}

// One handle of the env fewer; the last one, once the worker is going away, completes the cleanup hook.
void env_handle_closed(relay_env_t *e) {
  e->handles_open--;
  if (!e->closing || e->handles_open > 0) return;
  if (e->cleanup != NULL) {
    napi_remove_async_cleanup_hook(e->cleanup);
    e->cleanup = NULL;
  }
  if (e->gone) free(e);
}

void relay_finish(relay_t *r, int reason) {
  if (r->reason) return;
  r->reason = reason;
  relay_env_t *e = r->e;
  if (r->prev != NULL) r->prev->next = r->next;
  else e->head = r->next;
  if (r->next != NULL) r->next->prev = r->prev;
  e->live--;
  // uv_close stops the polls and drops the fds from epoll (and this turn's pending events) before the fds close.
  r->closes = 3;
  uv_close((uv_handle_t *)&r->poll[0], on_closed);
  uv_close((uv_handle_t *)&r->poll[1], on_closed);
  uv_close((uv_handle_t *)&r->timer, on_closed);
  close(r->fd[0]);
  close(r->fd[1]);
  for (int i = 0; i < 2; i++) {
    dir_t *d = &r->d[i];
    if (d->pipe[0] >= 0) pipe_put(&e->pipes, d->pipe, d->in_pipe == 0);
    free(d->buf);
    d->buf = NULL;
  }
  if (!r->quiet) relay_push_record(e, r->id, r->reason, r->base_from + (double)r->d[0].read, r->base_to + (double)r->d[1].written);
}

// Keeps bytes JavaScript read but did not write (the early bytes, a ClientHello peek, an upstream's greeting, a
// PROXY protocol header for the upstream).
int relay_keep(dir_t *d, const char *p, size_t n) {
  if (n == 0) return 0;
  if (n > UINT32_MAX / 2) return -E2BIG;
  d->buf = malloc(n);
  if (d->buf == NULL) return -ENOMEM;
  memcpy(d->buf, p, n);
  d->len = (uint32_t)n;
  return 0;
}

static void drop_buffers(relay_t *r) {
  free(r->d[0].buf);
  free(r->d[1].buf);
  r->d[0].buf = r->d[1].buf = NULL;
}

// A relay on two fds it does not close if this fails (NULL, *rc = -errno); once it returns one, the relay owns them.
// Not started: the caller keeps its prefixes (relay_keep), then relay_run()s it or starts dialing.
relay_t *relay_create(relay_env_t *e, double id, int client_fd, int upstream_fd, uint64_t idle_ms, int *rc) {
  *rc = 0;
  if (e->closing) { *rc = -ESHUTDOWN; return NULL; }
  relay_t *r = calloc(1, sizeof(relay_t));
  if (r == NULL) { *rc = -ENOMEM; return NULL; }
  r->e = e;
  for (int i = 0; i < 2; i++) r->d[i].pipe[0] = r->d[i].pipe[1] = -1;
  r->fd[0] = client_fd;
  r->fd[1] = upstream_fd;
  *rc = uv_poll_init_socket(e->loop, &r->poll[0], r->fd[0]);
  if (*rc != 0) {
    free(r);
    return NULL;
  }
  *rc = uv_poll_init_socket(e->loop, &r->poll[1], r->fd[1]);
  if (*rc != 0) {
    // poll[0] is a live handle now: it closes through the loop, which frees the relay
    r->poll[0].data = r;
    r->closes = 1;
    e->handles_open++;
    uv_close((uv_handle_t *)&r->poll[0], on_closed);
    return NULL;
  }
  uv_timer_init(e->loop, &r->timer);
  r->id = id;
  r->poll[0].data = r->poll[1].data = r->timer.data = r;
  r->idle_ms = idle_ms > 0 ? idle_ms : 1;
  r->last_active = uv_now(e->loop);
  r->next = e->head;
  if (e->head != NULL) e->head->prev = r;
  e->head = r;
  e->live++;
  e->handles_open++;
  return r;
}

// Both fds connected: the idle timer, the kept prefixes first, then the polls the directions want.
void relay_run(relay_t *r) {
  r->last_active = uv_now(r->e->loop);
  uv_timer_start(&r->timer, relay_on_timer, r->idle_ms, 0);
  if (r->d[0].len > 0 && dir_flush(r, 0) != 0) relay_finish(r, END_UPSTREAM_RESET);
  else if (r->d[1].len > 0 && dir_flush(r, 1) != 0) relay_finish(r, END_CLIENT_CLOSED);
  else settle(r);
}

// Two connected fds from JavaScript: relays dups of them (Node closes its own).
int relay_start(relay_env_t *e, double id, int client_fd, int upstream_fd, uint64_t idle_ms,
                const char *to_upstream, size_t to_upstream_len, int client_ended,
                const char *to_client, size_t to_client_len, double base_from, double base_to) {
  if (e->closing) return -ESHUTDOWN;
  int rc = 0;
  int cfd = fcntl(client_fd, F_DUPFD_CLOEXEC, 0);
  if (cfd < 0) return -errno;
  int ufd = fcntl(upstream_fd, F_DUPFD_CLOEXEC, 0);
  if (ufd < 0) {
    rc = -errno;
    close(cfd);
    return rc;
  }
  relay_t *r = relay_create(e, id, cfd, ufd, idle_ms, &rc);
  if (r == NULL) {
    close(cfd);
    close(ufd);
    return rc;
  }
  if ((rc = relay_keep(&r->d[0], to_upstream, to_upstream_len)) != 0 || (rc = relay_keep(&r->d[1], to_client, to_client_len)) != 0) {
    // the relay owns the dups now; it ends at once, and JavaScript falls back on its own sockets
    drop_buffers(r);
    r->quiet = 1; // no record for a relay JavaScript never saw start
    relay_finish(r, END_INTERNAL);
    return rc;
  }
  r->base_from = base_from;
  r->base_to = base_to;
  r->d[0].eof = client_ended ? 1 : 0;
  relay_run(r);
  return 0;
}

size_t relay_end_all(relay_env_t *e, int reason) {
  size_t n = 0;
  while (e->head != NULL) {
    relay_finish(e->head, reason);
    n++;
  }
  return n;
}
