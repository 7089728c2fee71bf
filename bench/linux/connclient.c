/* bench/linux/connclient.c — the net suite's connections-per-second client:
 * N sequential connections to an echo port, each one byte there and back,
 * then closed (the client closes first, as bench/netclient.mjs does). In C
 * because the Node client's own per-connection cost (its callbacks, ~330 µs
 * under load) was as large as the guests' and capped the row.
 *
 *   connclient HOST PORT N      prints {"connPerS":X,"done":D,"errors":E,"p50Us":P,"p99Us":Q}
 *
 * p50Us / p99Us: one connection's life as the client sees it (socket to
 * close, µs), so a profile can tell a slow median from a few stalls.
 *
 * Every socket call has a 10 s limit; a failed connection counts as an
 * error and the run goes on. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int one(const struct sockaddr_in *to) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct timeval tv = { .tv_sec = 10 };
  int one = 1, ok = -1;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char c = 'x';
  if (connect(fd, (const struct sockaddr *)to, sizeof *to) == 0 && write(fd, &c, 1) == 1 && read(fd, &c, 1) == 1 && c == 'x') ok = 0;
  close(fd);
  return ok;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: connclient HOST PORT N\n");
    return 2;
  }
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2])) };
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
    fprintf(stderr, "connclient: not an IPv4 address: %s\n", argv[1]);
    return 2;
  }
  long n = atol(argv[3]);
  if (n <= 0) {
    fprintf(stderr, "connclient: N must be a positive number\n");
    return 2;
  }
  double *lat = malloc(sizeof(double) * (size_t)n);
  if (lat == NULL) {
    fprintf(stderr, "connclient: out of memory\n");
    return 2;
  }
  long done = 0, errors = 0;
  double t0 = now();
  for (long i = 0; i < n; i++) {
    double c0 = now();
    if (one(&to) == 0) lat[done++] = (now() - c0) * 1e6;
    else errors++;
  }
  double secs = now() - t0;
  qsort(lat, (size_t)done, sizeof(double), cmp);
  double p50 = done ? lat[done / 2] : 0, p99 = done ? lat[(done * 99) / 100] : 0;
  printf("{\"connPerS\":%.1f,\"done\":%ld,\"errors\":%ld,\"p50Us\":%.0f,\"p99Us\":%.0f}\n", done / secs, done, errors, p50, p99);
  free(lat);
  return 0;
}
