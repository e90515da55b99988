// A bounded per-worker pool of pipes for splice(2). A pipe costs 2 fds and kernel memory, so at most PIPE_POOL_MAX
// exist at once (in use + idle); past that a bulk direction keeps copying (as HAProxy does past maxpipes). A pipe
// that still holds bytes when its session ends is closed, never reused (its bytes belong to nobody).
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include "sluice.h"

int pipe_get(pipe_pool_t *p, int out[2]) {
  if (p->count > 0) {
    p->count--;
    out[0] = p->fds[p->count][0];
    out[1] = p->fds[p->count][1];
    return 0;
  }
  if (p->live >= PIPE_POOL_MAX) return -1;
  if (pipe2(out, O_NONBLOCK | O_CLOEXEC) != 0) return -1;
  // Past pipe-user-pages-soft the kernel gives new pipes one page: useless for bulk, so copy instead.
  if (fcntl(out[0], F_GETPIPE_SZ) < CHUNK && fcntl(out[0], F_SETPIPE_SZ, CHUNK) < CHUNK) {
    close(out[0]);
    close(out[1]);
    return -1;
  }
  p->live++;
  return 0;
}

void pipe_put(pipe_pool_t *p, int fds[2], int empty) {
  if (empty && p->count < PIPE_POOL_MAX) {
    p->fds[p->count][0] = fds[0];
    p->fds[p->count][1] = fds[1];
    p->count++;
  } else {
    close(fds[0]);
    close(fds[1]);
    p->live--;
  }
  fds[0] = fds[1] = -1;
}

void pipe_pool_close(pipe_pool_t *p) {
  while (p->count > 0) {
    p->count--;
    close(p->fds[p->count][0]);
    close(p->fds[p->count][1]);
    p->live--;
  }
}
