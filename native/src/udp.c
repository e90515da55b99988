// UDP listeners on the native path: a dup of the SO_REUSEPORT datagram socket Node bound (Node's socket is then
// closed), read with recvmmsg in batches. A session per client address and port (and the local address it sent to):
//   - A datagram from an unknown client opens a session in its `pending` state (its datagrams queued, at most
//     UDP_QUEUE_CAP) and TypeScript is asked synchronously (on_udp: listener, session id, both addresses). TypeScript
//     routes it, runs its plugins and picks a node, then calls udpOpen() (now, or later for an asynchronous plugin) or
//     udpEnd(). Nothing here decides where a datagram goes.
//   - Open: one connected socket to the node; the client's datagrams go to it as they come (consecutive ones in one
//     sendmmsg), its replies go back from the listener's socket, from the address the client sent to (IP_PKTINFO /
//     IPV6_PKTINFO: on a wildcard listener too).
//   - Bounded: pending sessions per listener (UDP_PENDING_MAX), datagrams per pending session, and the kernel's send
//     queues (a full one drops the datagram, as UDP allows; counted). An ICMP port unreachable ends the session as
//     ConnectFailed. A sweep once per second ends idle sessions (their idle limit is TypeScript's).
//   - A session that ends here (idle, an ICMP refusal, its listener closed) sends one record (id, reason, bytes from
//     the client, bytes to the client), batched like the TCP relays'; one TypeScript ends (udpEnd) gets its byte
//     counts back at once instead.
// Session ids are negative (TCP session ids are TypeScript's, positive): -(generation * 2^24 + slot + 1).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "sluice.h"

#define UDP_BATCH 16
#define UDP_MAX_DATAGRAM 65536
#define UDP_QUEUE_CAP 64
#define UDP_PENDING_MAX 1024
#define UDP_SWEEP_MS 1000
#define CMSG_CAP 64

typedef struct udp_session_s udp_session_t;

typedef struct udp_listener_s {
  relay_env_t *e;
  struct udp_listener_s *prev, *next;
  double id;
  int fd;
  int family;                   // of the socket (AF_INET6 for a dual-stack [::])
  uint8_t wildcard;             // the local address comes with each datagram (pktinfo)
  struct sockaddr_storage local;
  uv_poll_t poll;
  uv_timer_t sweep;
  udp_session_t **buckets;      // by client address, port and local address
  uint32_t nbuckets, count, pending;
  int closes;
} udp_listener_t;

typedef struct queued_s {
  struct queued_s *next;
  uint32_t len;
  char data[];
} queued_t;

struct udp_session_s {
  udp_listener_t *l;            // not to be read once the session ended (its listener may be freed first)
  relay_env_t *e;
  udp_session_t *hnext;
  uint32_t hash, slot;
  double id;
  struct sockaddr_storage client;
  socklen_t client_len;
  struct sockaddr_storage to;   // the local address the client sent to (its port is the listener's)
  int fd;                       // upstream, connected (-1 while pending)
  uv_poll_t poll;
  uint64_t idle_ms, last_active;
  double from, to_client;
  queued_t *queue, **queue_tail;
  uint32_t queued;
  uint8_t open, ended;
};

static void on_listener_readable(uv_poll_t *h, int status, int events);
static void on_upstream_readable(uv_poll_t *h, int status, int events);

// --- addresses -------------------------------------------------------------------------------------------------

// The bytes that tell sessions apart: port and address (18 at most).
static size_t addr_key(const struct sockaddr_storage *ss, uint8_t *out) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    memcpy(out, &a->sin_port, 2);
    memcpy(out + 2, &a->sin_addr, 4);
    return 6;
  }
  const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
  memcpy(out, &a->sin6_port, 2);
  memcpy(out + 2, &a->sin6_addr, 16);
  return 18;
}

static int addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  uint8_t ka[18], kb[18];
  size_t n = addr_key(a, ka);
  addr_key(b, kb);
  return memcmp(ka, kb, n) == 0;
}

static uint32_t fnv(uint32_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static uint32_t session_hash(const struct sockaddr_storage *client, const struct sockaddr_storage *to) {
  uint8_t k[18];
  size_t n = addr_key(client, k);
  uint32_t h = fnv(2166136261u, k, n);
  n = addr_key(to, k);
  return fnv(h, k, n);
}

// The destination address of a datagram from its pktinfo (a wildcard listener), as a sockaddr of the listener's family.
static void datagram_to(const udp_listener_t *l, struct msghdr *m, struct sockaddr_storage *to) {
  *to = l->local;
  if (!l->wildcard) return;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && l->family == AF_INET) {
      struct in_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      ((struct sockaddr_in *)to)->sin_addr = pi.ipi_addr;
      return;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && l->family == AF_INET6) {
      struct in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      ((struct sockaddr_in6 *)to)->sin6_addr = pi.ipi6_addr;
      return;
    }
  }
}

// --- sessions --------------------------------------------------------------------------------------------------

static double session_id(relay_env_t *e, uint32_t slot) { return -((double)e->udp.gens[slot] * (double)SLOTS_MAX + (double)slot + 1); }

static udp_session_t *session_by_id(relay_env_t *e, double id) {
  if (!(id < 0)) return NULL;
  double x = -id - 1;
  double gen = (double)(uint64_t)(x / SLOTS_MAX);
  uint32_t slot = (uint32_t)(x - gen * SLOTS_MAX);
  return slots_get(&e->udp, slot, (uint32_t)gen);
}

static udp_session_t *session_find(udp_listener_t *l, const struct sockaddr_storage *client, const struct sockaddr_storage *to, uint32_t h) {
  if (l->nbuckets == 0) return NULL;
  for (udp_session_t *s = l->buckets[h & (l->nbuckets - 1)]; s != NULL; s = s->hnext) {
    if (s->hash == h && addr_equal(&s->client, client) && addr_equal(&s->to, to)) return s;
  }
  return NULL;
}

static int table_grow(udp_listener_t *l) {
  uint32_t n = l->nbuckets == 0 ? 64 : l->nbuckets * 2;
  udp_session_t **b = calloc(n, sizeof *b);
  if (b == NULL) return -ENOMEM;
  for (uint32_t i = 0; i < l->nbuckets; i++) {
    udp_session_t *s = l->buckets[i];
    while (s != NULL) {
      udp_session_t *next = s->hnext;
      s->hnext = b[s->hash & (n - 1)];
      b[s->hash & (n - 1)] = s;
      s = next;
    }
  }
  free(l->buckets);
  l->buckets = b;
  l->nbuckets = n;
  return 0;
}

static void table_remove(udp_listener_t *l, udp_session_t *s) {
  udp_session_t **p = &l->buckets[s->hash & (l->nbuckets - 1)];
  while (*p != NULL && *p != s) p = &(*p)->hnext;
  if (*p == s) *p = s->hnext;
  l->count--;
}

static void drop_queue(udp_session_t *s) {
  while (s->queue != NULL) {
    queued_t *q = s->queue;
    s->queue = q->next;
    free(q);
  }
  s->queue_tail = &s->queue;
  s->queued = 0;
}

static void on_session_closed(uv_handle_t *h) {
  udp_session_t *s = h->data;
  relay_env_t *e = s->e; // libuv runs close callbacks newest first: the listener's may have run already
  free(s);
  env_handle_closed(e);
}

static void session_end(udp_session_t *s, int reason, int quiet) {
  if (s->ended) return;
  s->ended = 1;
  udp_listener_t *l = s->l;
  relay_env_t *e = l->e;
  table_remove(l, s);
  if (!s->open) l->pending--;
  slots_release(&e->udp, s->slot); // calls and events for it are dropped from now on
  drop_queue(s);
  if (!quiet) relay_push_record(e, s->id, reason, s->from, s->to_client);
  if (s->open) {
    e->handles_open++;
    uv_close((uv_handle_t *)&s->poll, on_session_closed);
    close(s->fd);
  } else {
    free(s);
  }
}

static udp_session_t *session_new(udp_listener_t *l, const struct sockaddr_storage *client, socklen_t clen, const struct sockaddr_storage *to, uint32_t h) {
  relay_env_t *e = l->e;
  if (l->pending >= UDP_PENDING_MAX) return NULL;
  if (l->count + 1 > l->nbuckets && table_grow(l) != 0) return NULL;
  udp_session_t *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  if (slots_take(&e->udp, s, &s->slot) != 0) {
    free(s);
    return NULL;
  }
  s->l = l;
  s->e = e;
  s->id = session_id(e, s->slot);
  s->client = *client;
  s->client_len = clen;
  s->to = *to;
  s->hash = h;
  s->fd = -1;
  s->queue_tail = &s->queue;
  s->last_active = uv_now(e->loop);
  s->idle_ms = 60000;
  s->hnext = l->buckets[h & (l->nbuckets - 1)];
  l->buckets[h & (l->nbuckets - 1)] = s;
  l->count++;
  l->pending++;
  return s;
}

static void enqueue(udp_session_t *s, const char *p, size_t n) {
  relay_env_t *e = s->l->e;
  if (s->queued >= UDP_QUEUE_CAP) { e->udp_drops[UDP_DROP_QUEUE_FULL]++; return; }
  queued_t *q = malloc(sizeof *q + n);
  if (q == NULL) { e->udp_drops[UDP_DROP_QUEUE_FULL]++; return; }
  q->next = NULL;
  q->len = (uint32_t)n;
  memcpy(q->data, p, n);
  *s->queue_tail = q;
  s->queue_tail = &q->next;
  s->queued++;
}

// An error on the upstream socket: ICMP port unreachable (the node is not there) or another.
static void upstream_failed(udp_session_t *s, int err) {
  session_end(s, err == ECONNREFUSED ? END_CONNECT_FAILED : END_UPSTREAM_RESET, 0);
}

// Sends n datagrams to the session's node. A full send queue drops what is left (counted).
static void send_up(udp_session_t *s, struct mmsghdr *msgs, unsigned n) {
  relay_env_t *e = s->l->e;
  unsigned at = 0;
  while (at < n) {
    int sent = sendmmsg(s->fd, msgs + at, n - at, MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) { e->udp_drops[UDP_DROP_SEND_FULL] += n - at; return; }
      upstream_failed(s, errno);
      return;
    }
    at += (unsigned)sent;
  }
}

// --- the listener ----------------------------------------------------------------------------------------------

static void ask_typescript(udp_listener_t *l, udp_session_t *s) {
  relay_env_t *e = l->e;
  char raddr[INET6_ADDRSTRLEN], laddr[INET6_ADDRSTRLEN];
  int rport = addr_format(&s->client, raddr, sizeof raddr);
  int lport = addr_format(&s->to, laddr, sizeof laddr);
  napi_handle_scope scope;
  if (napi_open_handle_scope(e->env, &scope) != napi_ok) return;
  napi_value argv[6];
  napi_create_double(e->env, l->id, &argv[0]);
  napi_create_double(e->env, s->id, &argv[1]);
  napi_create_string_latin1(e->env, raddr, NAPI_AUTO_LENGTH, &argv[2]);
  napi_create_int32(e->env, rport, &argv[3]);
  napi_create_string_latin1(e->env, laddr, NAPI_AUTO_LENGTH, &argv[4]);
  napi_create_int32(e->env, lport, &argv[5]);
  env_call(e, e->on_udp, 6, argv);
  napi_close_handle_scope(e->env, scope);
}

// A batch of UDP_BATCH receive slots over the worker's datagram buffers, no address or control message yet.
static void batch_prepare(relay_env_t *e, struct mmsghdr *msgs, struct iovec *iov) {
  for (int i = 0; i < UDP_BATCH; i++) {
    iov[i].iov_base = e->udp_buf + (size_t)i * UDP_MAX_DATAGRAM;
    iov[i].iov_len = UDP_MAX_DATAGRAM;
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
}

static void on_listener_readable(uv_poll_t *h, int status, int events) {
  udp_listener_t *l = h->data;
  relay_env_t *e = l->e;
  (void)status; (void)events;
  struct mmsghdr msgs[UDP_BATCH];
  struct iovec iov[UDP_BATCH];
  struct sockaddr_storage from[UDP_BATCH];
  char cmsg[UDP_BATCH][CMSG_CAP];
  batch_prepare(e, msgs, iov);
  for (int i = 0; i < UDP_BATCH; i++) {
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    msgs[i].msg_hdr.msg_control = l->wildcard ? cmsg[i] : NULL;
    msgs[i].msg_hdr.msg_controllen = l->wildcard ? CMSG_CAP : 0;
  }
  int n;
  do n = recvmmsg(l->fd, msgs, UDP_BATCH, MSG_DONTWAIT, NULL); while (n < 0 && errno == EINTR);
  if (n <= 0) return;
  uint64_t now = uv_now(e->loop);
  for (int i = 0; i < n && l->closes == 0 && !e->closing;) {
    struct sockaddr_storage to;
    datagram_to(l, &msgs[i].msg_hdr, &to);
    uint32_t hs = session_hash(&from[i], &to);
    udp_session_t *s = session_find(l, &from[i], &to, hs);
    if (s == NULL) {
      s = session_new(l, &from[i], msgs[i].msg_hdr.msg_namelen, &to, hs);
      if (s == NULL) { e->udp_drops[UDP_DROP_TABLE_FULL]++; i++; continue; }
      s->from += msgs[i].msg_len;
      enqueue(s, iov[i].iov_base, msgs[i].msg_len);
      ask_typescript(l, s); // it may open the session (udpOpen), end it, or leave it pending
      i++;
      continue;
    }
    // this datagram and the next ones from the same client, in one go
    int j = i + 1;
    while (j < n && from[j].ss_family == from[i].ss_family && addr_equal(&from[j], &from[i])) {
      struct sockaddr_storage to_j;
      datagram_to(l, &msgs[j].msg_hdr, &to_j);
      if (!addr_equal(&to_j, &to)) break;
      j++;
    }
    s->last_active = now;
    for (int k = i; k < j; k++) s->from += msgs[k].msg_len;
    if (s->open) {
      for (int k = i; k < j; k++) {
        msgs[k].msg_hdr.msg_name = NULL;
        msgs[k].msg_hdr.msg_namelen = 0;
        msgs[k].msg_hdr.msg_control = NULL;
        msgs[k].msg_hdr.msg_controllen = 0;
        iov[k].iov_len = msgs[k].msg_len;
      }
      send_up(s, msgs + i, (unsigned)(j - i));
    } else {
      for (int k = i; k < j; k++) enqueue(s, iov[k].iov_base, msgs[k].msg_len);
    }
    i = j;
  }
}

// The control message that makes a reply leave from `to` (a wildcard listener's datagrams): its length in `buf`.
static size_t pktinfo_cmsg(int family, const struct sockaddr_storage *to, char *buf) {
  struct msghdr m = { .msg_control = buf, .msg_controllen = CMSG_CAP };
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  struct in_pktinfo pi4;
  struct in6_pktinfo pi6;
  memset(&pi4, 0, sizeof pi4);
  memset(&pi6, 0, sizeof pi6);
  pi4.ipi_spec_dst = ((const struct sockaddr_in *)to)->sin_addr;
  pi6.ipi6_addr = ((const struct sockaddr_in6 *)to)->sin6_addr;
  const void *pi = family == AF_INET ? (const void *)&pi4 : (const void *)&pi6;
  size_t n = family == AF_INET ? sizeof pi4 : sizeof pi6;
  c->cmsg_level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
  c->cmsg_type = family == AF_INET ? IP_PKTINFO : IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(n);
  memcpy(CMSG_DATA(c), pi, n);
  return CMSG_SPACE(n);
}

// Replies from a node: back to the client, from the address it sent to.
static void on_upstream_readable(uv_poll_t *h, int status, int events) {
  udp_session_t *s = h->data;
  if (s->ended) return;
  udp_listener_t *l = s->l;
  relay_env_t *e = l->e;
  (void)events;
  if (status < 0) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    upstream_failed(s, err);
    return;
  }
  struct mmsghdr msgs[UDP_BATCH];
  struct iovec iov[UDP_BATCH];
  char cmsg[CMSG_CAP];
  size_t clen = 0;
  memset(cmsg, 0, sizeof cmsg);
  if (l->wildcard) clen = pktinfo_cmsg(l->family, &s->to, cmsg);
  batch_prepare(e, msgs, iov);
  int n;
  do n = recvmmsg(s->fd, msgs, UDP_BATCH, MSG_DONTWAIT, NULL); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) upstream_failed(s, errno);
    return;
  }
  s->last_active = uv_now(e->loop);
  for (int i = 0; i < n; i++) {
    iov[i].iov_len = msgs[i].msg_len;
    msgs[i].msg_hdr.msg_name = &s->client;
    msgs[i].msg_hdr.msg_namelen = s->client_len;
    msgs[i].msg_hdr.msg_control = clen > 0 ? cmsg : NULL;
    msgs[i].msg_hdr.msg_controllen = clen;
  }
  int at = 0;
  while (at < n) {
    int sent = sendmmsg(l->fd, msgs + at, (unsigned)(n - at), MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR) continue;
      e->udp_drops[UDP_DROP_SEND_FULL] += (uint64_t)(n - at); // a full send queue or an unroutable client: lost
      break;
    }
    for (int k = at; k < at + sent; k++) s->to_client += msgs[k].msg_len;
    at += sent;
  }
}

static void on_sweep(uv_timer_t *t) {
  udp_listener_t *l = t->data;
  uint64_t now = uv_now(l->e->loop);
  for (uint32_t b = 0; b < l->nbuckets; b++) {
    udp_session_t *s = l->buckets[b];
    while (s != NULL) {
      udp_session_t *next = s->hnext;
      if (now - s->last_active >= s->idle_ms) session_end(s, s->open ? END_DONE : END_INTERNAL, 0);
      s = next;
    }
  }
}

// Called by TypeScript for a pending session: connect to ip:port, send what waited. 0 or -errno (the session then
// stays pending; TypeScript ends it).
int udp_open(relay_env_t *e, double id, const char *ip, int port, uint64_t idle_ms) {
  udp_session_t *s = session_by_id(e, id);
  if (s == NULL || s->ended) return -ENOENT;
  if (s->open) return -EALREADY;
  struct sockaddr_storage ss;
  socklen_t len;
  if (addr_parse(ip, port, &ss, &len) != 0) return -EINVAL;
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
    int rc = -errno;
    close(fd);
    return rc;
  }
  int rc = uv_poll_init_socket(e->loop, &s->poll, fd);
  if (rc != 0) {
    close(fd);
    return rc;
  }
  s->poll.data = s;
  s->fd = fd;
  s->open = 1;
  s->l->pending--;
  s->idle_ms = idle_ms > 0 ? idle_ms : 1;
  s->last_active = uv_now(e->loop);
  uv_poll_start(&s->poll, UV_READABLE, on_upstream_readable);
  // what waited, in order
  while (s->queue != NULL && !s->ended) {
    queued_t *q = s->queue;
    s->queue = q->next;
    struct iovec v = { .iov_base = q->data, .iov_len = q->len };
    struct mmsghdr m;
    memset(&m, 0, sizeof m);
    m.msg_hdr.msg_iov = &v;
    m.msg_hdr.msg_iovlen = 1;
    send_up(s, &m, 1);
    free(q);
  }
  if (!s->ended) {
    s->queue_tail = &s->queue;
    s->queued = 0;
  }
  return 0;
}

// Called by TypeScript: ends a session without a record; its byte counts are the answer. -ENOENT if it had ended.
int udp_end(relay_env_t *e, double id, double *from, double *to) {
  udp_session_t *s = session_by_id(e, id);
  if (s == NULL || s->ended) return -ENOENT;
  *from = s->from;
  *to = s->to_client;
  session_end(s, END_SHUTDOWN, 1);
  return 0;
}

// A live session's byte counts, as udp_end reads them, without ending it.
int udp_bytes(relay_env_t *e, double id, double *from, double *to) {
  udp_session_t *s = session_by_id(e, id);
  if (s == NULL || s->ended) return -ENOENT;
  *from = s->from;
  *to = s->to_client;
  return 0;
}

int udp_listen(relay_env_t *e, double id, int fd) {
  if (e->closing) return -ESHUTDOWN;
  if (e->udp_buf == NULL) {
    // one batch of datagram buffers per worker (malloc'd, so untouched pages cost no memory)
    e->udp_buf = malloc((size_t)UDP_BATCH * UDP_MAX_DATAGRAM);
    if (e->udp_buf == NULL) return -ENOMEM;
  }
  udp_listener_t *l = calloc(1, sizeof *l);
  if (l == NULL) return -ENOMEM;
  l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (l->fd < 0) {
    int rc = -errno;
    free(l);
    return rc;
  }
  socklen_t llen = sizeof l->local;
  getsockname(l->fd, (struct sockaddr *)&l->local, &llen);
  l->family = l->local.ss_family;
  if (l->family == AF_INET) l->wildcard = ((struct sockaddr_in *)&l->local)->sin_addr.s_addr == htonl(INADDR_ANY);
  else l->wildcard = IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&l->local)->sin6_addr);
  if (l->wildcard) {
    int one = 1;
    if (l->family == AF_INET) setsockopt(l->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    else {
      setsockopt(l->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    }
  }
  int rc = uv_poll_init_socket(e->loop, &l->poll, l->fd);
  if (rc != 0) {
    close(l->fd);
    free(l);
    return rc;
  }
  uv_timer_init(e->loop, &l->sweep);
  l->e = e;
  l->id = id;
  l->poll.data = l->sweep.data = l;
  l->next = e->udp_listeners;
  if (e->udp_listeners != NULL) e->udp_listeners->prev = l;
  e->udp_listeners = l;
  e->handles_open++;
  uv_poll_start(&l->poll, UV_READABLE, on_listener_readable);
  uv_timer_start(&l->sweep, on_sweep, UDP_SWEEP_MS, UDP_SWEEP_MS);
  uv_unref((uv_handle_t *)&l->sweep);
  return 0;
}

static void on_listener_closed(uv_handle_t *h) {
  udp_listener_t *l = h->data;
  if (--l->closes > 0) return;
  relay_env_t *e = l->e;
  free(l->buckets);
  free(l);
  env_handle_closed(e);
}

static void close_listener(udp_listener_t *l, int reason) {
  relay_env_t *e = l->e;
  for (uint32_t b = 0; b < l->nbuckets; b++) {
    while (l->buckets[b] != NULL) session_end(l->buckets[b], reason, 0);
  }
  if (l->prev != NULL) l->prev->next = l->next;
  else e->udp_listeners = l->next;
  if (l->next != NULL) l->next->prev = l->prev;
  l->closes = 2;
  uv_close((uv_handle_t *)&l->poll, on_listener_closed);
  uv_close((uv_handle_t *)&l->sweep, on_listener_closed);
  close(l->fd);
}

int udp_unlisten(relay_env_t *e, double id) {
  for (udp_listener_t *l = e->udp_listeners; l != NULL; l = l->next) {
    if (l->id == id) {
      close_listener(l, END_SHUTDOWN);
      return 0;
    }
  }
  return -ENOENT;
}

void udp_close_all(relay_env_t *e) {
  while (e->udp_listeners != NULL) close_listener(e->udp_listeners, END_SHUTDOWN);
  slots_free(&e->udp);
  free(e->udp_buf);
  e->udp_buf = NULL;
}
