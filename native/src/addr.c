// Socket addresses to and from the text TypeScript speaks (listen.c, dial.c, udp.c).
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include "sluice.h"

// ip text (IPv4-mapped IPv6 as plain IPv4, as a dual-stack [::] socket sees v4 peers) and the port.
int addr_format(const struct sockaddr_storage *ss, char *out, size_t cap) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)cap);
    return ntohs(a->sin_port);
  }
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], out, (socklen_t)cap);
    else inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)cap);
    return ntohs(a->sin6_port);
  }
  out[0] = '\0';
  return 0;
}

// An IPv4 or IPv6 literal and a port: 0, or -EINVAL.
int addr_parse(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (port <= 0 || port > 65535) return -EINVAL;
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof *v4;
    return 0;
  }
  if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *len = sizeof *v6;
    return 0;
  }
  return -EINVAL;
}
