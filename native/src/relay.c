// One relay: two connected, non-blocking fds (client, upstream) and the bytes between them, on the worker's loop.
//   - Copy: recv into the worker's scratch CHUNK and send at once; only what the writer could not take is kept, in a
//     buffer of exactly that size, and that direction stops reading until it is written (at most one CHUNK waits per
//     direction: backpressure). An idle session holds no buffer.
//   - Splice: a read that fills CHUNK marks the direction bulk; it then moves through a pipe from the worker's pool
//     with splice(2) (no copy into user space) until a read comes back small, when the pipe goes back.
//   - Half-close: a FIN read from one side is passed on (shutdown(SHUT_WR)) once its direction is drained; the other
//     direction keeps flowing. Both FINs passed → Done.
//   - Both fds sit in the worker's epoll set, edge-triggered (events.c): the relay keeps what each last reported
//     (readable, writable) and acts on that, with no interest change as directions stop and start; one idle timer
//     per relay, re-armed lazily from the time of the last event.
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
// is a bug in TypeScript: it becomes the worker's uncaught exception. Returns whether the function returned: not
// when it threw, nor once the worker is dying (its isolate terminating after an uncaught exception, before the
// cleanup hook runs; V8 reports that as a pending exception too). Then e->js_gone is set: no more calls.
int env_call(relay_env_t *e, napi_ref fn, size_t argc, napi_value *argv) {
  napi_value cb, recv;
  if (e->js_gone) return 0;
  if (napi_get_reference_value(e->env, fn, &cb) != napi_ok || napi_get_reference_value(e->env, e->receiver, &recv) != napi_ok) {
    e->js_gone = 1;
    return 0;
  }
  napi_status st = napi_make_callback(e->env, e->async_ctx, recv, cb, argc, argv, NULL);
  if (st == napi_pending_exception) {
    napi_value err;
    e->js_gone = 1;
    if (napi_get_and_clear_last_exception(e->env, &err) == napi_ok) napi_fatal_exception(e->env, err);
    return 0;
  }
  if (st != napi_ok) {
    e->js_gone = 1;
    return 0;
  }
  return 1;
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

// The client's send buffer filled for the first time: from now on its EPOLLOUT edges are wanted too.
static int watch_out(relay_t *r, int k) {
  if (r->out_watched[k]) return 0;
  r->out_watched[k] = 1;
  return events_watch(r, k, WATCH_ALL, EPOLL_CTL_MOD);
}

static inline int would_block(void) { return errno == EAGAIN || errno == EWOULDBLOCK; }

// Writes what direction i holds. 0: done or would block (the destination is then not writable until it says so);
// -1: the destination failed.
static int dir_flush(relay_t *r, int i) {
  dir_t *d = &r->d[i];
  int k = 1 - i, dst = r->fd[k];
  while (d->len > d->off) {
    ssize_t w = send(dst, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (would_block()) { r->can_write[k] = 0; return watch_out(r, k) == 0 ? 0 : -1; }
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
      if (would_block()) { r->can_write[k] = 0; return watch_out(r, k) == 0 ? 0 : -1; }
      return -1;
    }
    d->in_pipe -= (uint32_t)w;
    d->written += (uint64_t)w;
  }
  if (!d->bulk && d->pipe[0] >= 0) pipe_put(&r->e->pipes, d->pipe, 1);
  return 0;
}

// Reads per direction and turn before the other sessions get theirs (a fast pair on loopback never blocks).
#define READ_BUDGET 4

// Reads direction i's source while nothing waits and it is readable. 0: fine; -1: the source failed; -2: the
// destination failed.
static int dir_read(relay_t *r, int i) {
  relay_env_t *e = r->e;
  dir_t *d = &r->d[i];
  int src = r->fd[i], dst = r->fd[1 - i];
  for (int turn = 0; turn < READ_BUDGET; turn++) {
    if (d->eof || pending(d) > 0 || !r->can_read[i]) return 0;
    if (d->bulk && d->pipe[0] < 0 && pipe_get(&e->pipes, d->pipe) != 0) d->bulk = 0; // no pipe free: copy
    int piped = d->pipe[0] >= 0;
    // piped: the pipe is empty when we read, so EAGAIN means the socket is
    ssize_t n = piped ? splice(src, NULL, d->pipe[1], NULL, CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
                      : recv(src, e->scratch, CHUNK, MSG_DONTWAIT);
    if (n == 0) {
      d->eof = 1;
      r->can_read[i] = 0;
      return 0;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (would_block()) { r->can_read[i] = 0; return 0; }
      return -1;
    }
    d->read += (uint64_t)n;
    if (piped) {
      // a splice can come back short with more queued (the pipe's slots full of small segments): read on to EAGAIN
      d->in_pipe = (uint32_t)n;
      if (n < SMALL_READ) d->bulk = 0; // the pipe goes back once drained (dir_flush)
      if (dir_flush(r, i) != 0) return -2;
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
      r->can_write[1 - i] = 0;
      if (watch_out(r, 1 - i) != 0) return -2;
    }
    if (n == CHUNK) d->bulk = 1;
    // a short recv emptied the receive queue: the next bytes bring an edge; a known FIN is read on to its 0
    else if (!r->hup[i]) r->can_read[i] = 0;
  }
  if (!d->eof && pending(d) == 0 && r->can_read[i]) events_again(r); // budget spent: the rest next turn
  return 0;
}

// After any progress: pass on drained FINs and end when both are passed.
static void settle(relay_t *r) {
  if (r->reason) return;
  for (int i = 0; i < 2; i++) {
    dir_t *d = &r->d[i];
    if (d->eof && !d->shut && pending(d) == 0) {
      d->shut = 1;
      // the last FIN: close() sends it (both receive queues are empty, read to their FIN), one syscall fewer
      if (r->d[1 - i].shut) break;
      if (shutdown(r->fd[1 - i], SHUT_WR) != 0 && errno != ENOTCONN) {
        relay_finish(r, i == 0 ? END_UPSTREAM_RESET : END_CLIENT_CLOSED);
        return;
      }
    }
  }
  if (r->d[0].shut && r->d[1].shut) relay_finish(r, END_DONE);
}

static inline int side_reason(int k) { return k == 0 ? END_CLIENT_CLOSED : END_UPSTREAM_RESET; }

// Moves what it can both ways from what the sockets last reported, then settles.
void relay_step(relay_t *r) {
  for (int i = 0; i < 2 && !r->reason; i++) {
    dir_t *d = &r->d[i];
    int rc = 0;
    if (pending(d) > 0 && r->can_write[1 - i] && dir_flush(r, i) != 0) rc = -2;
    if (rc == 0) rc = dir_read(r, i);
    if (r->reason) return;
    if (rc == -1) { relay_finish(r, side_reason(i)); return; }
    if (rc == -2) { relay_finish(r, side_reason(1 - i)); return; }
  }
  settle(r);
}

// An event on socket k (events.c): what it says is kept, then the relay moves.
void relay_on_event(relay_t *r, int k, uint32_t events) {
  if (r->reason) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) r->can_read[k] = 1;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) r->hup[k] = 1;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) r->can_write[k] = 1;
  if (r->dialing) {
    dial_on_event(r, k, events);
    return;
  }
  r->last_active = uv_now(r->e->loop);
  if (events & EPOLLERR) {
    // a pending error (a reset): what the peer sent before it is still readable (recv returns it before the error),
    // so it is passed on, then the session ends with this side's reason
    int rc = 0;
    for (int turn = 0; turn < 16 && rc == 0 && !r->reason && !r->d[k].eof && r->can_read[k] && pending(&r->d[k]) == 0; turn++) rc = dir_read(r, k);
    if (!r->reason) relay_finish(r, rc == -2 ? side_reason(1 - k) : side_reason(k));
    return;
  }
  relay_step(r);
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
  events_forget(r);
  events_slot_release(r); // events still queued for it are dropped from now on
  if (r->shared_fds) {
    events_unwatch(r, 0);
    events_unwatch(r, 1);
  }
  // closing a fd no other holds takes it out of the epoll set
  close(r->fd[0]);
  close(r->fd[1]);
  uv_close((uv_handle_t *)&r->timer, on_closed);
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
// Not started and not watched: the caller keeps its prefixes (relay_keep), adds the fds to the set (events_watch),
// then relay_run()s it or starts dialing.
relay_t *relay_create(relay_env_t *e, double id, int client_fd, int upstream_fd, uint64_t idle_ms, int *rc) {
  *rc = 0;
  if (e->closing || e->epfd < 0) { *rc = -ESHUTDOWN; return NULL; }
  relay_t *r = calloc(1, sizeof(relay_t));
  if (r == NULL) { *rc = -ENOMEM; return NULL; }
  r->e = e;
  if ((*rc = events_slot_take(r)) != 0) {
    free(r);
    return NULL;
  }
  for (int i = 0; i < 2; i++) r->d[i].pipe[0] = r->d[i].pipe[1] = -1;
  r->fd[0] = client_fd;
  r->fd[1] = upstream_fd;
  r->can_write[0] = r->can_write[1] = 1; // until a send says otherwise
  uv_timer_init(e->loop, &r->timer);
  r->id = id;
  r->timer.data = r;
  r->idle_ms = idle_ms > 0 ? idle_ms : 1;
  r->last_active = uv_now(e->loop);
  r->next = e->head;
  if (e->head != NULL) e->head->prev = r;
  e->head = r;
  e->live++;
  e->handles_open++;
  return r;
}

// Both fds connected and watched: the idle timer, the kept prefixes first, then whatever the sockets have reported.
void relay_run(relay_t *r) {
  r->last_active = uv_now(r->e->loop);
  uv_timer_start(&r->timer, relay_on_timer, r->idle_ms, 0);
  relay_step(r);
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
  r->shared_fds = 1;
  r->out_watched[0] = r->out_watched[1] = 1;
  if ((rc = relay_keep(&r->d[0], to_upstream, to_upstream_len)) != 0 || (rc = relay_keep(&r->d[1], to_client, to_client_len)) != 0
      || (rc = events_watch(r, 0, WATCH_ALL, EPOLL_CTL_ADD)) != 0 || (rc = events_watch(r, 1, WATCH_ALL, EPOLL_CTL_ADD)) != 0) {
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

// The byte counts of every live relay (dialing or relaying) as (id, from client, to client) triples, at most `cap`
// of them: the connections API reads them as of its answer.
size_t relay_counts(relay_env_t *e, double *out, size_t cap) {
  size_t n = 0;
  for (relay_t *r = e->head; r != NULL && n < cap; r = r->next, n++) {
    out[3 * n] = r->id;
    out[3 * n + 1] = r->base_from + (double)r->d[0].read;
    out[3 * n + 2] = r->base_to + (double)r->d[1].written;
  }
  return n;
}

// Ends one relay now, as relay_end_all does every one (its record carries `reason`); -ENOENT if it is not live.
// A walk of the live list: a kill is an operator's click, not a per-session cost.
int relay_end(relay_env_t *e, double id, int reason) {
  for (relay_t *r = e->head; r != NULL; r = r->next) {
    if (r->id != id) continue;
    relay_finish(r, reason);
    return 0;
  }
  return -ENOENT;
}
