/* bench/insn-count.c — a QEMU TCG plugin that counts the guest instructions
 * the vCPUs execute, for A/B comparisons that a loaded host does not blur
 * (CPU time does; an instruction count does not). The count is written, as
 * decimal text, to the file named by the plugin's out= argument every 20 ms
 * and at exit: read it before and after a measured interval.
 *   gcc -O2 -shared -fPIC -o insn-count.so bench/insn-count.c -lpthread
 *   qemu-system-x86_64 ... -plugin ./insn-count.so,out=/tmp/insns
 * (bench/profile-http.ts builds and loads it with INSNS=1.)
 * With tbs=FILE as well it keeps a count per translated block: whenever
 * FILE.req appears it writes FILE ("vaddr instructions executions" per
 * block, cumulative) and removes FILE.req; two such snapshots around an
 * interval, with the image's symbols, give an exact profile of the guest
 * by function (bench/insn-profile.py).
 * With callers=ADDR[:ADDR...] (hex entry addresses of functions, e.g. memset
 * and memory_fill from the image's symbols) it also counts, per function,
 * the block that ran just before its entry: the caller's block that ends in
 * the call. Written with the tbs snapshot as "callee caller executions"
 * lines to FILE.callers. This needs a callback per executed block (slow:
 * for finding callers, not for counting).
 * The few declarations below are QEMU's stable plugin API, version 1
 * (QEMU 4.2 to 8.x); they are written out here because Debian ships no
 * qemu-plugin.h. Counting is by translated block, inline in the generated
 * code (no callback per block); one vCPU, so no atomics are needed. */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <stdlib.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*tb_trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*udata_cb)(qemu_plugin_id_t id, void *userdata);
extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb cb);
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr, uint64_t imm);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb cb, void *userdata);
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*vcpu_udata_cb)(unsigned int vcpu_index, void *userdata);
extern void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, vcpu_udata_cb cb, enum qemu_plugin_cb_flags flags, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static volatile uint64_t insns;
static const char *out_path = "insns.txt";
static const char *tbs_path = NULL;

/* One per translation (a block translated again gets another). */
struct tb_count { uint64_t vaddr, n, execs; };
#define TB_MAX (1 << 20)
static struct tb_count *tbs;
static volatile uint32_t ntbs;
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);

/* callers=: the functions watched, and (callee, caller block) counts in an
 * open-addressed table. */
#define CALLEES_MAX 8
#define EDGES_MAX (1 << 16)
static uint64_t callees[CALLEES_MAX];
static int ncallees;
struct edge { uint64_t callee, caller, n; };
static struct edge *edges;
static uint64_t last_tb;

static void on_block(unsigned int vcpu, void *ud) {
  (void)vcpu;
  uint64_t pc = (uint64_t)(uintptr_t)ud;
  for (int i = 0; i < ncallees; i++) {
    if (callees[i] != pc) continue;
    uint64_t h = (pc * 0x9E3779B97F4A7C15ull ^ last_tb) * 0x9E3779B97F4A7C15ull;
    for (uint32_t k = (uint32_t)(h >> 40) & (EDGES_MAX - 1), probes = 0; probes < EDGES_MAX; k = (k + 1) & (EDGES_MAX - 1), probes++) {
      struct edge *e = &edges[k];
      if (e->n == 0) { e->callee = pc; e->caller = last_tb; }
      if (e->callee == pc && e->caller == last_tb) { e->n++; break; }
    }
  }
  last_tb = pc;
}

static void write_callers(void) {
  char path[4096], tmp[4096];
  snprintf(path, sizeof path, "%s.callers", tbs_path);
  snprintf(tmp, sizeof tmp, "%s.callers.tmp", tbs_path);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  for (uint32_t k = 0; k < EDGES_MAX; k++)
    if (edges[k].n) fprintf(f, "%llx %llx %llu\n", (unsigned long long)edges[k].callee, (unsigned long long)edges[k].caller, (unsigned long long)edges[k].n);
  fclose(f);
  rename(tmp, path);
}

static void write_tbs(void) {
  char req[4096], tmp[4096];
  snprintf(req, sizeof req, "%s.req", tbs_path);
  if (access(req, F_OK) != 0) return;
  snprintf(tmp, sizeof tmp, "%s.tmp", tbs_path);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  uint32_t n = ntbs;
  for (uint32_t i = 0; i < n; i++)
    if (tbs[i].execs) fprintf(f, "%llx %llu %llu\n", (unsigned long long)tbs[i].vaddr, (unsigned long long)tbs[i].n, (unsigned long long)tbs[i].execs);
  fclose(f);
  if (edges) write_callers();
  rename(tmp, tbs_path);
  unlink(req);
}

static void write_count(void) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  fprintf(f, "%llu\n", (unsigned long long)insns);
  fclose(f);
  rename(tmp, out_path);
}

static void *writer(void *arg) {
  (void)arg;
  for (;;) { write_count(); if (tbs_path) write_tbs(); usleep(20000); }
  return NULL;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  size_t n = qemu_plugin_tb_n_insns(tb);
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, (void *)&insns, n);
  if (tbs && ntbs < TB_MAX) {
    struct tb_count *c = &tbs[ntbs];
    c->vaddr = qemu_plugin_tb_vaddr(tb);
    c->n = n;
    c->execs = 0;
    __atomic_store_n(&ntbs, ntbs + 1, __ATOMIC_RELEASE);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, (void *)&c->execs, 1);
  }
  if (edges) qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)qemu_plugin_tb_vaddr(tb));
}

static void on_exit_cb(qemu_plugin_id_t id, void *p) { (void)id; (void)p; write_count(); }

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
  (void)info;
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "out=", 4) == 0) out_path = argv[i] + 4;
    if (strncmp(argv[i], "tbs=", 4) == 0) tbs_path = argv[i] + 4;
    if (strncmp(argv[i], "callers=", 8) == 0) {
      for (char *p = argv[i] + 8; *p && ncallees < CALLEES_MAX; ) {
        callees[ncallees++] = strtoull(p, &p, 16);
        if (*p == ':') p++;
      }
    }
  }
  if (ncallees && !tbs_path) return 1;     /* written with the tbs snapshot */
  if (ncallees && !(edges = calloc(EDGES_MAX, sizeof *edges))) return 1;
  if (tbs_path && !(tbs = calloc(TB_MAX, sizeof *tbs))) return 1;
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
  pthread_t t;
  if (pthread_create(&t, NULL, writer, NULL) != 0) return 1;
  pthread_detach(t);
  return 0;
}
