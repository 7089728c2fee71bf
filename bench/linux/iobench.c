/* bench/linux/iobench.c — the Linux reference guest's half of bench/virtio.ts:
 * the same measurements bench/apps/blkbench makes in Skiff, printed in the
 * same line format so one parser reads both. busybox has no random-I/O tool
 * and `date` has no sub-second clock, so this small static program (built on
 * the host by bench/linux/virtio.ts, run from the initramfs) does the timing.
 * Block I/O goes through io_uring (raw syscalls, no liburing): one process
 * keeps DEPTH O_DIRECT requests in flight on one ring, as blkbench keeps DEPTH
 * in its virtqueue — the same queue depth on both sides, no forked workers.
 *
 *   iobench seq DEV BYTES DEPTH       128 KiB writes over the first BYTES in order, then
 *                                      reads; DEPTH in flight
 *   iobench rand DEV BYTES MS DEPTH    4 KiB reads at random aligned offsets, DEPTH in flight
 *   iobench udp IP PORT MS PAYLOAD     UDP datagrams of PAYLOAD bytes as fast as sendto takes them
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

#define SEQ_BS (128 * 1024)
#define RAND_BS 4096
#define MAX_DEPTH 256

static void *aligned(size_t n) {
  void *b;
  if (posix_memalign(&b, 4096, n)) { perror("posix_memalign"); exit(1); }
  memset(b, 0x5a, n);
  return b;
}

/* One io_uring: the submission and completion rings mapped from the kernel. */
struct ring {
  int fd;
  unsigned *sq_tail, *sq_mask, *sq_array;
  unsigned *cq_head, *cq_tail, *cq_mask;
  struct io_uring_sqe *sqes;
  struct io_uring_cqe *cqes;
};

static int ring_init(struct ring *r, unsigned entries) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  r->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
  if (r->fd < 0) { perror("io_uring_setup"); return -1; }
  size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && cq_sz > sq_sz) sq_sz = cq_sz;
  char *sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
  if (sq == MAP_FAILED) { perror("mmap sq"); return -1; }
  char *cq = sq;
  if (!single) {
    cq = mmap(NULL, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
    if (cq == MAP_FAILED) { perror("mmap cq"); return -1; }
  }
  r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
  if (r->sqes == MAP_FAILED) { perror("mmap sqes"); return -1; }
  r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
  r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
  r->sq_array = (unsigned *)(sq + p.sq_off.array);
  r->cq_head = (unsigned *)(cq + p.cq_off.head);
  r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
  r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  return 0;
}

/* Queues one read or write (not yet submitted: io_uring_enter does that). */
static void ring_push(struct ring *r, int write, int fd, void *buf, unsigned len, uint64_t off, uint64_t tag) {
  unsigned tail = *r->sq_tail;
  unsigned i = tail & *r->sq_mask;
  struct io_uring_sqe *e = &r->sqes[i];
  memset(e, 0, sizeof *e);
  e->opcode = write ? IORING_OP_WRITE : IORING_OP_READ;
  e->fd = fd;
  e->addr = (uint64_t)(uintptr_t)buf;
  e->len = len;
  e->off = off;
  e->user_data = tag;
  r->sq_array[i] = i;
  __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

/* One phase: DEPTH requests of BS bytes in flight until the sequential range
 * (ms == 0: blocks 0..BYTES/BS in order) or the time (ms > 0: random blocks)
 * is used up; then the line bench/virtio.ts parses. 1 on failure. */
static int phase(const char *what, const char *dev, int write, unsigned bs, uint64_t bytes, uint64_t ms, int depth) {
  if (depth < 1 || depth > MAX_DEPTH) { fprintf(stderr, "iobench: depth %d out of range\n", depth); return 1; }
  int fd = open(dev, (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
  if (fd < 0) { perror(dev); return 1; }
  struct ring r;
  if (ring_init(&r, (unsigned)depth)) return 1;
  char *bufs = aligned((size_t)bs * (size_t)depth);
  int free_slots[MAX_DEPTH], nfree = depth;
  for (int i = 0; i < depth; i++) free_slots[i] = i;
  uint64_t blocks = bytes / bs, next = 0, reqs = 0, x = 0x9e3779b97f4a7c15ull;
  unsigned queued = 0;
  int inflight = 0, failed = 0;
  uint64_t t0 = now_ns(), end = t0 + ms * 1000000ull;
  for (;;) {
    while (!failed && nfree > 0 && (ms ? now_ns() < end : next < blocks)) {
      uint64_t blk;
      if (ms) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; blk = x % blocks; }   /* xorshift64 */
      else blk = next++;
      int s = free_slots[--nfree];
      ring_push(&r, write, fd, bufs + (size_t)s * bs, bs, blk * bs, (uint64_t)s);
      queued++;
      inflight++;
    }
    if (inflight == 0) break;
    int n = (int)syscall(__NR_io_uring_enter, r.fd, queued, 1, IORING_ENTER_GETEVENTS, NULL, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EBUSY) continue;
      perror("io_uring_enter");
      return 1;
    }
    queued -= (unsigned)n;
    unsigned head = *r.cq_head;
    unsigned tail = __atomic_load_n(r.cq_tail, __ATOMIC_ACQUIRE);
    for (; head != tail; head++) {
      struct io_uring_cqe *c = &r.cqes[head & *r.cq_mask];
      if (c->res != (int)bs) {
        fprintf(stderr, "iobench: %s request failed: %s\n", what, c->res < 0 ? strerror(-c->res) : "short transfer");
        failed = 1;
      } else reqs++;
      free_slots[nfree++] = (int)c->user_data;
      inflight--;
    }
    __atomic_store_n(r.cq_head, head, __ATOMIC_RELEASE);
  }
  uint64_t ns = now_ns() - t0;
  close(r.fd);
  close(fd);
  free(bufs);
  if (failed) return 1;
  printf("iobench: %s bytes=%llu reqs=%llu ns=%llu\n", what, (unsigned long long)(reqs * bs),
         (unsigned long long)reqs, (unsigned long long)ns);
  fflush(stdout);
  return 0;
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
    if (phase("seqwrite", argv[2], 1, SEQ_BS, bytes, 0, depth)) return 1;
    return phase("seqread", argv[2], 0, SEQ_BS, bytes, 0, depth);
  }
  if (argc == 6 && !strcmp(argv[1], "rand"))
    return phase("randread4k", argv[2], 0, RAND_BS, strtoull(argv[3], 0, 0), strtoull(argv[4], 0, 0), atoi(argv[5]));
  if (argc == 6 && !strcmp(argv[1], "udp"))
    return udp(argv[2], atoi(argv[3]), strtoull(argv[4], 0, 0), atoi(argv[5]));
  fprintf(stderr, "usage: iobench seq DEV BYTES DEPTH | rand DEV BYTES MS DEPTH | udp IP PORT MS PAYLOAD\n");
  return 2;
}
