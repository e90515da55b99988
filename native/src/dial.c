// Dialing a node for a connection the addon accepted (listen.c): a relay in its `dialing` state. fd[1] is a
// non-blocking socket connecting to the node TypeScript chose, in the epoll set for everything from the start (its
// first EPOLLOUT says connected); the relay's timer is the attempt's connect timeout. The client is in the set too:
// a reset ends the session, its bytes and FIN are only noted, and wait in the kernel until the relay starts.
//   - Connected: a record (EV_CONNECTED, the connect time) goes to TypeScript with the next batch; the relay runs.
//   - Failed or timed out: TypeScript is told at once (on_dial). It passes the outcome to the balancer and passive
//     health, and may call redial() before it returns. The new socket then takes fd[1]'s number (dup3: the old
//     socket, closed, leaves the set), and the timer is reused. Without a redial, the session ends with the failure
//     as its reason.
// The policy (which node, how many retries, the deadline) is TypeScript's (phases/connect.ts, ConnectPlan).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "sluice.h"

// A non-blocking socket connecting to ip:port (IPv4 or IPv6 literal). Its fd, or -errno: a failure known at once
// (an unparsable address, EADDRNOTAVAIL, ENETUNREACH, out of fds) is answered synchronously.
static int open_connect(const char *ip, int port) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (addr_parse(ip, port, &ss, &len) != 0) return -EINVAL;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc;
  do rc = connect(fd, (struct sockaddr *)&ss, len); while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EINPROGRESS) {
    rc = -errno;
    close(fd);
    return rc;
  }
  return fd; // connected or in progress: the poll tells which
}

static void wait_for_connect(relay_t *r, uint64_t timeout_ms) {
  r->dial_started = uv_hrtime();
  r->can_read[1] = r->hup[1] = 0;
  r->can_write[1] = 0;
  r->out_watched[1] = 1;
  uv_timer_start(&r->timer, relay_on_timer, timeout_ms > 0 ? timeout_ms : 1, 0);
  if (events_watch(r, 1, WATCH_ALL, EPOLL_CTL_ADD) != 0) relay_finish(r, END_INTERNAL);
}

int dial_start(relay_env_t *e, double id, int client_fd, const char *ip, int port, uint64_t timeout_ms, uint64_t idle_ms,
               const char *to_upstream, size_t to_upstream_len) {
  if (e->closing) return -ESHUTDOWN;
  // the prefix first: once the relay exists it owns the client's fd, and a failure after that could not give it back
  dir_t prefix;
  memset(&prefix, 0, sizeof prefix);
  int rc = relay_keep(&prefix, to_upstream, to_upstream_len);
  if (rc != 0) return rc;
  int ufd = open_connect(ip, port);
  if (ufd < 0) {
    free(prefix.buf);
    return ufd;
  }
  relay_t *r = relay_create(e, id, client_fd, ufd, idle_ms, &rc);
  if (r == NULL) {
    free(prefix.buf);
    close(ufd);
    return rc;
  }
  r->d[0].buf = prefix.buf;
  r->d[0].len = prefix.len;
  r->dialing = 1;
  if (events_watch(r, 0, WATCH_IN, EPOLL_CTL_ADD) != 0) relay_finish(r, END_INTERNAL);
  else wait_for_connect(r, timeout_ms);
  return 0;
}

static void dial_failed(relay_t *r, int code) {
  relay_env_t *e = r->e;
  uv_timer_stop(&r->timer);
  if (!e->closing) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(e->env, &scope) == napi_ok) {
      napi_value argv[2];
      napi_create_double(e->env, r->id, &argv[0]);
      napi_create_int32(e->env, code, &argv[1]);
      e->dialing_now = r;
      e->redialed = 0;
      env_call(e, e->on_dial, 2, argv);
      e->dialing_now = NULL;
      napi_close_handle_scope(e->env, scope);
      if (e->redialed) return;
    }
  }
  if (!r->reason) relay_finish(r, code);
}

// Called by TypeScript from inside on_dial: the next attempt, on the same relay.
int dial_again(relay_env_t *e, double id, const char *ip, int port, uint64_t timeout_ms) {
  relay_t *r = e->dialing_now;
  if (r == NULL || r->id != id || e->redialed || r->reason) return -EINVAL;
  int fd = open_connect(ip, port);
  if (fd < 0) return fd;
  // the new socket takes the old one's number; the old one, closed by dup3, leaves the epoll set
  int rc = dup3(fd, r->fd[1], O_CLOEXEC) < 0 ? -errno : 0;
  close(fd);
  if (rc != 0) return rc;
  e->redialed = 1;
  wait_for_connect(r, timeout_ms);
  return 0;
}

void dial_on_event(relay_t *r, int k, uint32_t events) {
  if (k == 0) {
    // The client while we dial: a reset ends the session; its bytes and FIN wait for the relay (noted by the caller).
    if (events & EPOLLERR) relay_finish(r, END_CLIENT_CLOSED);
    return;
  }
  // A failed connect reports EPOLLERR (with HUP); a connected socket becomes writable. Nothing else is asked.
  if (events & (EPOLLERR | EPOLLHUP)) {
    dial_failed(r, END_CONNECT_FAILED);
    return;
  }
  if (!(events & EPOLLOUT)) return;
  r->dialing = 0;
  uv_timer_stop(&r->timer);
  relay_push_record(r->e, r->id, EV_CONNECTED, (double)(uv_hrtime() - r->dial_started) / 1e6, 0);
  relay_run(r);
}

void dial_on_timer(relay_t *r) { dial_failed(r, END_CONNECT_TIMEOUT); }
