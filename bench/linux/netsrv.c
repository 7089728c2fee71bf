/* bench/linux/netsrv.c — the Linux guest's side of the network benchmark
 * (bench/net.ts): TCP echo on 7, discard on 9 and a source of zeros on 19,
 * like bench/apps/netbench, in one process with one epoll loop (no fork per
 * connection, non-blocking sockets, TCP_NODELAY on echo). Built statically
 * by the benchmark with gcc -static (busybox has no such server).
 * Usage: netsrv (no arguments); prints "netsrv: ready" once all three listen. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { ECHO = 7, DISCARD = 9, SOURCE = 19 };
#define MAXFD 65536
#define BUF (64 * 1024)

/* Per connection: its service, and for echo what was read but not yet written back. */
struct conn { int port; int len, off; char *pending; };
static struct conn conns[MAXFD];
static char buf[BUF];
static char zeros[BUF];
static int ep;

static int listener(int port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4096) < 0) { perror("netsrv: listen"); exit(1); }
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)port << 32 | (uint32_t)s };
  epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  return s;
}

static void drop(int fd) {
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  free(conns[fd].pending);
  memset(&conns[fd], 0, sizeof conns[fd]);
}

static void want(int fd, uint32_t events) {
  struct epoll_event ev = { .events = events, .data.u64 = (uint32_t)fd };
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Echo: write back what is pending; 1 when all of it went. */
static int flush(int fd) {
  struct conn *c = &conns[fd];
  while (c->off < c->len) {
    ssize_t n = write(fd, c->pending + c->off, c->len - c->off);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    c->off += n;
  }
  c->off = c->len = 0;
  return 1;
}

static void serve(int fd, uint32_t events) {
  struct conn *c = &conns[fd];
  if (c->port == SOURCE) {
    for (;;) {
      ssize_t n = write(fd, zeros, BUF);
      if (n < 0) { if (errno != EAGAIN) drop(fd); return; }
    }
  }
  if (c->port == ECHO && c->len > 0) {
    int r = flush(fd);
    if (r < 0) { drop(fd); return; }
    if (r == 0) return;                       /* still waiting for EPOLLOUT */
    want(fd, EPOLLIN);
  }
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  for (;;) {
    ssize_t n = read(fd, buf, BUF);
    if (n == 0) { drop(fd); return; }
    if (n < 0) { if (errno != EAGAIN) drop(fd); return; }
    if (c->port == DISCARD) continue;
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno != EAGAIN) { drop(fd); return; }
    if (w < 0) w = 0;
    if (w < n) {                               /* keep the rest, read no more until it is gone */
      c->pending = realloc(c->pending, n - w);
      memcpy(c->pending, buf + w, n - w);
      c->len = n - w; c->off = 0;
      want(fd, EPOLLOUT);
      return;
    }
  }
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  ep = epoll_create1(0);
  int ls[3] = { listener(ECHO), listener(DISCARD), listener(SOURCE) };
  (void)ls;
  printf("netsrv: ready\n");
  fflush(stdout);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      uint64_t d = evs[i].data.u64;
      int fd = (int)(uint32_t)d, port = (int)(d >> 32);
      if (port) {                              /* a listener: accept all that wait */
        for (;;) {
          int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK);
          if (s < 0) break;
          if (s >= MAXFD) { close(s); continue; }
          int one = 1;
          if (port == ECHO) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conns[s].port = port;
          struct epoll_event ev = { .events = port == SOURCE ? EPOLLOUT : EPOLLIN, .data.u64 = (uint32_t)s };
          epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
        }
      } else {
        serve(fd, evs[i].events);
      }
    }
  }
}
