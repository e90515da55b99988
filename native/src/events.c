// The worker's own epoll set for relay sockets, under one libuv poll handle (its fd is readable while any relay socket
// has an event). Why not one uv_poll per socket, as before: libuv changes a socket's interest with epoll_ctl each time
// the wanted mask changes and removes it with another, and uv_poll_init puts the fd in non-blocking mode again (ioctl):
// about ten syscalls per proxied connection, a tenth of its cost on loopback (bench/RESULTS.md, issue 13). Here each
// socket is added once, edge-triggered, for everything it can report; relay.c keeps what it last learnt (readable,
// writable) per socket, and closing the fd takes it out of the set. Two epoll_ctl per connection, no more.
//   - An event names its relay by slot and generation, not by pointer: a relay's slot is released (its generation
//     moves on) when it ends, so an event still queued for an ended relay, or for a socket whose fd another process
//     briefly shared (fork before exec), is recognized and dropped.
//   - A relay that stopped for fairness with bytes still readable (its read budget for the turn spent) is queued on
//     `again` and run on the next loop turn (an idle handle keeps the loop from blocking meanwhile).
#define _GNU_SOURCE
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "sluice.h"

// Events taken per wake-up; more stay in the set (it is still readable) for the next loop turn.
#define EVENT_BATCH 64

static void on_events(uv_poll_t *h, int status, int events);
static void on_again(uv_idle_t *h);
static void on_handle_closed(uv_handle_t *h) { env_handle_closed(h->data); }

int events_init(relay_env_t *e) {
  e->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (e->epfd < 0) return -errno;
  int rc = uv_poll_init(e->loop, &e->events_h, e->epfd);
  if (rc != 0) {
    close(e->epfd);
    e->epfd = -1;
    return rc;
  }
  e->events_h.data = e;
  uv_idle_init(e->loop, &e->again_h);
  e->again_h.data = e;
  e->handles_open += 2;
  // The set being watched does not keep the worker alive; each relay's timer does, as long as it lives.
  uv_unref((uv_handle_t *)&e->events_h);
  return uv_poll_start(&e->events_h, UV_READABLE, on_events);
}

void events_close(relay_env_t *e) {
  if (e->epfd < 0) return;
  uv_close((uv_handle_t *)&e->events_h, on_handle_closed);
  uv_close((uv_handle_t *)&e->again_h, on_handle_closed);
  close(e->epfd);
  e->epfd = -1;
  slots_free(&e->relays);
}

// A slot for a new relay: 0, or -ENOMEM.
int events_slot_take(relay_t *r) {
  int rc = slots_take(&r->e->relays, r, &r->slot);
  if (rc == 0) r->slotted = 1;
  return rc;
}

// The relay ended: its events still queued (this batch or later) no longer match.
void events_slot_release(relay_t *r) {
  if (!r->slotted) return;
  r->slotted = 0;
  slots_release(&r->e->relays, r->slot);
}

// Adds (or, op EPOLL_CTL_MOD, changes) socket k of relay r in the set. 0 or -errno.
int events_watch(relay_t *r, int k, uint32_t interest, int op) {
  relay_env_t *e = r->e;
  struct epoll_event ev;
  ev.events = interest;
  ev.data.u64 = ((uint64_t)r->slot << 32) | ((uint64_t)e->relays.gens[r->slot] << 1) | (uint64_t)k;
  return epoll_ctl(e->epfd, op, r->fd[k], &ev) == 0 ? 0 : -errno;
}

// Sockets whose fds are shared with Node (relay_start's dups): closing ours may not drop them from the set.
void events_unwatch(relay_t *r, int k) {
  struct epoll_event ev;
  epoll_ctl(r->e->epfd, EPOLL_CTL_DEL, r->fd[k], &ev);
}

static void on_events(uv_poll_t *h, int status, int events) {
  relay_env_t *e = h->data;
  (void)status; (void)events;
  struct epoll_event evs[EVENT_BATCH];
  int n;
  do n = epoll_wait(e->epfd, evs, EVENT_BATCH, 0); while (n < 0 && errno == EINTR);
  for (int i = 0; i < n && !e->closing; i++) {
    uint64_t tag = evs[i].data.u64;
    uint32_t slot = (uint32_t)(tag >> 32), gen = (uint32_t)(tag >> 1) & 0x7fffffffu;
    relay_t *r = slots_get(&e->relays, slot, gen);
    if (r != NULL) relay_on_event(r, (int)(tag & 1), evs[i].events); // else an ended relay's
  }
}

void events_again(relay_t *r) {
  relay_env_t *e = r->e;
  if (r->queued) return;
  r->queued = 1;
  r->again_next = e->again_head;
  e->again_head = r;
  if (!uv_is_active((uv_handle_t *)&e->again_h)) uv_idle_start(&e->again_h, on_again);
}

void events_forget(relay_t *r) {
  if (!r->queued) return;
  relay_t **p = &r->e->again_head;
  while (*p != NULL && *p != r) p = &(*p)->again_next;
  if (*p == r) *p = r->again_next;
  r->queued = 0;
}

static void on_again(uv_idle_t *h) {
  relay_env_t *e = h->data;
  relay_t *list = e->again_head;
  e->again_head = NULL;
  // taken off the list before each runs: a relay that spends its budget again is queued for the next turn
  while (list != NULL) {
    relay_t *r = list;
    list = r->again_next;
    r->queued = 0;
    relay_step(r);
  }
  if (e->again_head == NULL) uv_idle_stop(&e->again_h);
}
