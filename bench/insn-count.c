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
}

static void on_exit_cb(qemu_plugin_id_t id, void *p) { (void)id; (void)p; write_count(); }

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
  (void)info;
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "out=", 4) == 0) out_path = argv[i] + 4;
    if (strncmp(argv[i], "tbs=", 4) == 0) tbs_path = argv[i] + 4;
  }
  if (tbs_path && !(tbs = calloc(TB_MAX, sizeof *tbs))) return 1;
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
  pthread_t t;
  if (pthread_create(&t, NULL, writer, NULL) != 0) return 1;
  pthread_detach(t);
  return 0;
}
