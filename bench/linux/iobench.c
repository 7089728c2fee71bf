/* bench/linux/iobench.c — the Linux reference guest's half of bench/virtio.ts:
 * the same measurements bench/apps/blkbench makes in Skiff, printed in the
 * same line format so one parser reads both. busybox has no random-I/O tool
 * and `date` has no sub-second clock, so this small static program (built on
 * the host by bench/linux/virtio.ts, run from the initramfs) does the timing.
 *
 *   iobench seq DEV BYTES DEPTH       O_DIRECT 128 KiB writes over the first BYTES, then
 *                                      reads; DEPTH processes on disjoint slices (DEPTH in flight)
 *   iobench rand DEV BYTES MS DEPTH    4 KiB O_DIRECT reads at random aligned offsets, DEPTH in flight
 *   iobench udp IP PORT MS PAYLOAD     UDP datagrams of PAYLOAD bytes as fast as sendto takes them
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

#define SEQ_BS (128 * 1024)
#define RAND_BS 4096

/* Results from children: a shared anonymous page of counters. */
static uint64_t *shared(int n) {
  void *p = mmap(NULL, (size_t)n * 8, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { perror("mmap"); exit(1); }
  return p;
}

static void *aligned(size_t n) {
  void *b;
  if (posix_memalign(&b, 4096, n)) { perror("posix_memalign"); exit(1); }
  memset(b, 0x5a, n);
  return b;
}

/* One phase of the sequential test: DEPTH processes, each over its slice. */
/* Waits for the depth workers, then prints the line bench/virtio.ts parses;
 * 1 when a worker failed. */
static int report(const char *what, const uint64_t *reqs, int depth, uint64_t bs, uint64_t t0) {
  int ok = 1, st;
  while (wait(&st) > 0) if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ok = 0;
  uint64_t ns = now_ns() - t0;
  uint64_t total = 0;
  for (int i = 0; i < depth; i++) total += reqs[i];
  if (!ok) return 1;
  printf("iobench: %s bytes=%llu reqs=%llu ns=%llu\n", what, (unsigned long long)(total * bs),
         (unsigned long long)total, (unsigned long long)ns);
  fflush(stdout);
  return 0;
}

static int seq_phase(const char *dev, uint64_t bytes, int depth, int write) {
  uint64_t *reqs = shared(depth);
  uint64_t slice = bytes / (uint64_t)depth / SEQ_BS * SEQ_BS;
  uint64_t t0 = now_ns();
  for (int i = 0; i < depth; i++) {
    if (fork() == 0) {
      int fd = open(dev, (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
      if (fd < 0) { perror(dev); _exit(1); }
      char *b = aligned(SEQ_BS);
      for (uint64_t o = 0; o < slice; o += SEQ_BS) {
        off_t at = (off_t)(slice * (uint64_t)i + o);
        ssize_t n = write ? pwrite(fd, b, SEQ_BS, at) : pread(fd, b, SEQ_BS, at);
        if (n != SEQ_BS) { perror(write ? "pwrite" : "pread"); _exit(1); }
        reqs[i]++;
      }
      _exit(0);
    }
  }
  return report(write ? "seqwrite" : "seqread", reqs, depth, SEQ_BS, t0);
}

static int rand_read(const char *dev, uint64_t bytes, uint64_t ms, int depth) {
  uint64_t *reqs = shared(depth);
  uint64_t blocks = bytes / RAND_BS;
  uint64_t t0 = now_ns(), end = t0 + ms * 1000000ull;
  for (int i = 0; i < depth; i++) {
    if (fork() == 0) {
      int fd = open(dev, O_RDONLY | O_DIRECT);
      if (fd < 0) { perror(dev); _exit(1); }
      char *b = aligned(RAND_BS);
      uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
      while (now_ns() < end) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;     /* xorshift64 */
        if (pread(fd, b, RAND_BS, (off_t)((x % blocks) * RAND_BS)) != RAND_BS) { perror("pread"); _exit(1); }
        reqs[i]++;
      }
      _exit(0);
    }
  }
  return report("randread4k", reqs, depth, RAND_BS, t0);
}

static int udp(const char *ip, int port, uint64_t ms, int payload) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) { perror("socket"); return 1; }
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  if (inet_pton(AF_INET, ip, &to.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", ip); return 1; }
  char buf[2048];
  memset(buf, 0x5a, sizeof buf);
  uint64_t frames = 0, refused = 0;
  uint64_t t0 = now_ns(), end = t0 + ms * 1000000ull;
  while (now_ns() < end) {
    for (int k = 0; k < 64; k++) {
      if (sendto(s, buf, (size_t)payload, 0, (struct sockaddr *)&to, sizeof to) == payload) frames++;
      else refused++;
    }
  }
  uint64_t ns = now_ns() - t0;
  printf("iobench: nettx frames=%llu refused=%llu ns=%llu\n", (unsigned long long)frames,
         (unsigned long long)refused, (unsigned long long)ns);
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "seq")) {
    uint64_t bytes = strtoull(argv[3], 0, 0);
    int depth = atoi(argv[4]);
    if (seq_phase(argv[2], bytes, depth, 1)) return 1;
    if (seq_phase(argv[2], bytes, depth, 0)) return 1;
    return 0;
  }
  if (argc == 6 && !strcmp(argv[1], "rand"))
    return rand_read(argv[2], strtoull(argv[3], 0, 0), strtoull(argv[4], 0, 0), atoi(argv[5]));
  if (argc == 6 && !strcmp(argv[1], "udp"))
    return udp(argv[2], atoi(argv[3]), strtoull(argv[4], 0, 0), atoi(argv[5]));
  fprintf(stderr, "usage: iobench seq DEV BYTES DEPTH | rand DEV BYTES MS DEPTH | udp IP PORT MS PAYLOAD\n");
  return 2;
}
