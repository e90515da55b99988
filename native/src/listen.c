// Listeners the addon accepts on: a dup of a listening socket Node bound (SO_REUSEPORT, one per worker), Node's own
// handle closed. Each wakeup accepts up to ACCEPT_BATCH connections with accept4 (libuv's accept takes one per loop
// turn) and hands each to TypeScript synchronously (on_accept: listener id, fd, both addresses), which routes it and
// calls dial() (dial.c), closes it, or wraps it in a net.Socket for the JavaScript path.
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

static void on_listen(uv_poll_t *h, int status, int events);

// 0.0.0.0 or [::]: the address a connection came to is its own (getsockname per connection, for server_addr).
static int is_wildcard(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
  if (ss->ss_family == AF_INET6) return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
  return 1;
}

static void hand_over(listener_t *l, int fd, const struct sockaddr_storage *peer) {
  relay_env_t *e = l->e;
  struct sockaddr_storage local = l->local;
  socklen_t llen = sizeof local;
  if (l->wildcard) getsockname(fd, (struct sockaddr *)&local, &llen);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char raddr[INET6_ADDRSTRLEN], laddr[INET6_ADDRSTRLEN];
  int rport = addr_format(peer, raddr, sizeof raddr);
  int lport = addr_format(&local, laddr, sizeof laddr);
  napi_env env = e->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    close(fd);
    return;
  }
  napi_value argv[6];
  napi_create_double(env, l->id, &argv[0]);
  napi_create_int32(env, fd, &argv[1]);
  napi_create_string_latin1(env, raddr, NAPI_AUTO_LENGTH, &argv[2]);
  napi_create_int32(env, rport, &argv[3]);
  napi_create_string_latin1(env, laddr, NAPI_AUTO_LENGTH, &argv[4]);
  napi_create_int32(env, lport, &argv[5]);
  // from here the fd is TypeScript's (or a relay's, through dial()), unless the call did not return: the worker is
  // dying (or TypeScript threw before taking it: acceptNative catches everything after). Nobody would serve or close
  // the fd then, and its client would wait for good (found by ops-worker-crash.test.ts)
  if (!env_call(e, e->on_accept, 6, argv)) close(fd);
  napi_close_handle_scope(env, scope);
}

static void on_resume(uv_timer_t *t) {
  listener_t *l = t->data;
  if (l->closes == 0) uv_poll_start(&l->poll, UV_READABLE, on_listen);
}

static void on_listen(uv_poll_t *h, int status, int events) {
  listener_t *l = h->data;
  (void)events;
  if (status < 0) {
    // libuv stopped the handle on POLLERR: try again after a pause (accept then says what is wrong, if anything)
    uv_timer_start(&l->pause, on_resume, ACCEPT_PAUSE_MS, 0);
    return;
  }
  // a dying worker accepts no more: what waits in the queue is reset when the listener closes (cleanup hook)
  for (int i = 0; i < ACCEPT_BATCH && l->closes == 0 && !l->e->closing && !l->e->js_gone; i++) {
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      hand_over(l, fd, &peer);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // out of fds or memory: the queue waits (the kernel bounds it by the backlog) rather than the loop spinning
      uv_poll_stop(&l->poll);
      uv_timer_start(&l->pause, on_resume, ACCEPT_PAUSE_MS, 0);
    }
    break; // EAGAIN: the queue is empty
  }
}

int listen_start(relay_env_t *e, double id, int fd) {
  if (e->closing) return -ESHUTDOWN;
  listener_t *l = calloc(1, sizeof(listener_t));
  if (l == NULL) return -ENOMEM;
  l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (l->fd < 0) {
    int rc = -errno;
    free(l);
    return rc;
  }
  int rc = uv_poll_init_socket(e->loop, &l->poll, l->fd);
  if (rc != 0) {
    close(l->fd);
    free(l);
    return rc;
  }
  socklen_t llen = sizeof l->local;
  getsockname(l->fd, (struct sockaddr *)&l->local, &llen);
  l->wildcard = is_wildcard(&l->local);
  uv_timer_init(e->loop, &l->pause);
  l->e = e;
  l->id = id;
  l->poll.data = l->pause.data = l;
  rc = uv_poll_start(&l->poll, UV_READABLE, on_listen);
  l->next = e->listeners;
  if (e->listeners != NULL) e->listeners->prev = l;
  e->listeners = l;
  e->handles_open++;
  if (rc != 0) {
    listen_stop(e, id);
    return rc;
  }
  return 0;
}

static void on_listener_closed(uv_handle_t *h) {
  listener_t *l = h->data;
  if (--l->closes > 0) return;
  relay_env_t *e = l->e;
  free(l);
  env_handle_closed(e);
}

static void close_listener(listener_t *l) {
  relay_env_t *e = l->e;
  if (l->prev != NULL) l->prev->next = l->next;
  else e->listeners = l->next;
  if (l->next != NULL) l->next->prev = l->prev;
  l->closes = 2;
  uv_close((uv_handle_t *)&l->poll, on_listener_closed);
  uv_close((uv_handle_t *)&l->pause, on_listener_closed);
  close(l->fd);
}

int listen_stop(relay_env_t *e, double id) {
  for (listener_t *l = e->listeners; l != NULL; l = l->next) {
    if (l->id == id) {
      close_listener(l);
      return 0;
    }
  }
  return -ENOENT;
}

void listen_close_all(relay_env_t *e) {
  while (e->listeners != NULL) close_listener(e->listeners);
}
