/*
 * mtcr_bench: drive an mtcr-compatible library (ours: libmtcr_ul.so, or Debian's stock
 * cmtcr.so) through its public C API, loaded by path with dlopen, and time it.
 *
 *   mtcr_bench [options] LIB DEVICE
 *     -r REPS     timed repetitions per row (default 5); the median is reported
 *     -o ROWS     comma-separated rows to run (default: all); see ROWS below
 *     -n ITERS    run each selected row exactly ITERS times, once, untimed (for syscall
 *                 counting under strace: the difference between -n 1 and -n 0 is the cost
 *                 of one operation, with dlopen/mopen/mclose cancelled out)
 *     -s DIR      counter snapshots: before and after each row's timed repetitions run
 *                 "$MTCR_SIM_BIN stats" (the simulator's live counters) into
 *                 DIR/<row>.before.json and DIR/<row>.after.json
 *     -m COUNT    memory check: mopen+mclose COUNT times, print VmRSS before/after, and the
 *                 peak-RSS growth of one 1 MiB mread4_block/mwrite4_block (default 0 = off)
 *     -a ADDR     crspace address of the rows (default 0; 1 MiB from it is used). The
 *                 stock library maps only the first MiB of resource0, so the rows stay there.
 *     -B LIB2     side by side: load LIB2 as well (each library opens the device itself) and
 *                 time the two in turn, repetition by repetition (A B, then B A, ...), so that
 *                 a machine whose speed drifts affects both alike. Prints a ROW line per
 *                 library (lib=0 for LIB, lib=1 for LIB2) and a RATIO line per row: the
 *                 median over the repetitions of time(LIB)/time(LIB2). With -s, the
 *                 snapshots are taken around the first timed repetition of each library:
 *                 DIR/<row>.<lib>.before.json and .after.json (counts of one repetition).
 *
 * Writes never change the device: every write row stores what a read found there (the read
 * rows fill the buffer; before a write row that needs more, an untimed block read does).
 * Simulator use only: on real hardware, writing crspace back is still not harmless.
 *
 * ROWS: open (mopen+mclose), read4, write4, rblk16 rblk256 rblk4k rblk64k rblk1m,
 *       wblk16 wblk256 wblk4k wblk64k wblk1m, reg (maccess_reg GET of MGIR, 160 bytes: one
 *       register access, timed per access; over ICMD on a PCI name, over FWCTL_RPC on a
 *       fwctl name). A library without maccess_reg fails the reg row.
 *
 * Output (stdout), one line per row, space-separated key=value:
 *   ROW name=read4 dwords=1 ops=200 reps=5 median_ns_per_dword=... min_ns_per_dword=...
 * (with -B: "ROW lib=N name=..." for each library, then "RATIO name=... median=...").
 * "dwords" is dwords per operation (0 for open: the time is then per operation); "ops" is
 * operations per repetition. Exit status 0 only when every operation succeeded.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef void *(*mopen_fn)(const char *);
typedef int (*mclose_fn)(void *);
typedef int (*mread4_fn)(void *, unsigned int, uint32_t *);
typedef int (*mwrite4_fn)(void *, unsigned int, uint32_t);
typedef int (*mblock_fn)(void *, unsigned int, uint32_t *, int);
typedef int (*maccess_reg_fn)(void *, uint16_t, int, void *, uint32_t, uint32_t, uint32_t, int *);

/* One loaded library and its handle on the device. */
struct lib {
    mopen_fn mopen;
    mclose_fn mclose;
    mread4_fn mread4;
    mwrite4_fn mwrite4;
    mblock_fn mread4_block;
    mblock_fn mwrite4_block;
    maccess_reg_fn maccess_reg; /* NULL when the library lacks it */
    void *mf;
};

static struct lib g_libs[2];
static int g_nlibs = 1;
/* The library the p_* calls go to. */
static struct lib *cur = &g_libs[0];
#define p_mopen (cur->mopen)
#define p_mclose (cur->mclose)
#define p_mread4 (cur->mread4)
#define p_mwrite4 (cur->mwrite4)
#define p_mread4_block (cur->mread4_block)
#define p_mwrite4_block (cur->mwrite4_block)

enum kind { K_OPEN, K_READ4, K_WRITE4, K_RBLK, K_WBLK, K_REG };

struct row {
    const char *name;
    enum kind kind;
    int bytes; /* per operation (blocks) */
    int ops;   /* operations per timed repetition */
};

/* Operation counts keep every row around a few thousand dwords (or one 1 MiB block), so a
 * whole run stays within a couple of minutes in the simulator. */
static const struct row ROWS[] = {
    {"open", K_OPEN, 0, 20},
    {"read4", K_READ4, 4, 200},
    {"write4", K_WRITE4, 4, 200},
    {"rblk16", K_RBLK, 16, 100},
    {"rblk256", K_RBLK, 256, 16},
    {"rblk4k", K_RBLK, 4096, 2},
    {"rblk64k", K_RBLK, 65536, 1},
    {"rblk1m", K_RBLK, 1 << 20, 1},
    {"wblk16", K_WBLK, 16, 100},
    {"wblk256", K_WBLK, 256, 16},
    {"wblk4k", K_WBLK, 4096, 2},
    {"wblk64k", K_WBLK, 65536, 1},
    {"wblk1m", K_WBLK, 1 << 20, 1},
    {"reg", K_REG, 0, 50},
};
#define NROWS (sizeof(ROWS) / sizeof(ROWS[0]))

static const char *g_dev;
static unsigned int g_addr = 0;
static uint32_t *g_buf;         /* 1 MiB, the block rows' user buffer */
static int g_filled;            /* bytes of g_buf known to hold crspace at g_addr */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *must_sym(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (!p) {
        fprintf(stderr, "mtcr_bench: %s not exported: %s\n", name, dlerror());
        exit(2);
    }
    return p;
}

static void *open_dev(void)
{
    void *mf = p_mopen(g_dev);
    if (!mf) {
        fprintf(stderr, "mtcr_bench: mopen(%s): %s\n", g_dev, strerror(errno));
        exit(3);
    }
    return mf;
}

/* One operation of a row on mf (mopen+mclose for "open"). Returns 0 on success. */
static int one_op(const struct row *r, void *mf, unsigned int i)
{
    uint32_t v;
    unsigned int addr = g_addr + ((i * 4u) & 0xffffcu);
    switch (r->kind) {
    case K_OPEN: {
        void *m = p_mopen(g_dev);
        if (!m)
            return -1;
        return p_mclose(m) == 0 ? 0 : -1;
    }
    case K_READ4:
        return p_mread4(mf, addr, &v) == 4 ? 0 : -1;
    case K_WRITE4:
        return p_mwrite4(mf, addr, g_buf[(addr - g_addr) / 4]) == 4 ? 0 : -1;
    case K_RBLK:
        if (p_mread4_block(mf, g_addr, g_buf, r->bytes) != r->bytes)
            return -1;
        if (r->bytes > g_filled)
            g_filled = r->bytes;
        return 0;
    case K_WBLK:
        return p_mwrite4_block(mf, g_addr, g_buf, r->bytes) == r->bytes ? 0 : -1;
    case K_REG: {
        static uint8_t mgir[160];
        int st = -1;
        memset(mgir, 0, sizeof mgir);
        if (!cur->maccess_reg)
            return -1;
        return cur->maccess_reg(mf, 0x9020, 1, mgir, sizeof mgir, sizeof mgir, sizeof mgir, &st) == 0 &&
                       st == 0
                   ? 0
                   : -1;
    }
    }
    return -1;
}

/* Counter snapshot DIR/<row>[.<lib>].<when>.json (lib < 0: single-library naming). */
static void snapshot(const char *dir, const char *row, int lib, const char *when)
{
    const char *sim = getenv("MTCR_SIM_BIN");
    char cmd[4096], tag[16] = "";
    if (!dir)
        return;
    if (!sim) {
        fprintf(stderr, "mtcr_bench: -s needs MTCR_SIM_BIN\n");
        exit(2);
    }
    if (lib >= 0)
        snprintf(tag, sizeof tag, ".%d", lib);
    snprintf(cmd, sizeof cmd, "'%s' stats > '%s/%s%s.%s.json'", sim, dir, row, tag, when);
    if (system(cmd) != 0) {
        fprintf(stderr, "mtcr_bench: '%s' failed\n", cmd);
        exit(2);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static long status_kib(const char *key)
{
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Reset VmHWM to the current RSS (Linux >= 4.0). */
static int reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    int ok;
    if (fd < 0)
        return -1;
    ok = write(fd, "5", 1) == 1 ? 0 : -1;
    close(fd);
    return ok;
}

static int memory_check(long count)
{
    long rss0, rss1, i, hwm;
    int fails = 0;
    void *mf;
    /* Warm up: the first opens populate lazily-initialised state (logger, tables). */
    for (i = 0; i < 100; i++) {
        mf = open_dev();
        p_mclose(mf);
    }
    rss0 = status_kib("VmRSS");
    for (i = 0; i < count; i++) {
        mf = p_mopen(g_dev);
        if (!mf) {
            fails++;
            continue;
        }
        p_mclose(mf);
    }
    rss1 = status_kib("VmRSS");
    printf("MEM open_close=%ld rss_before_kib=%ld rss_after_kib=%ld growth_kib=%ld failures=%d\n",
           count, rss0, rss1, rss1 - rss0, fails);

    mf = open_dev();
    for (int k = 0; k < 2; k++) {
        int bytes = 1 << 20, rc;
        /* k = 0 reads the MiB into the (already resident) buffer; k = 1 writes it back */
        if (reset_hwm() != 0) {
            printf("MEM block=%s peak_growth_kib=unknown (clear_refs not writable)\n",
                   k ? "write" : "read");
            continue;
        }
        rss0 = status_kib("VmRSS");
        rc = k ? p_mwrite4_block(mf, g_addr, g_buf, bytes) : p_mread4_block(mf, g_addr, g_buf, bytes);
        hwm = status_kib("VmHWM");
        if (rc != bytes)
            fails++;
        printf("MEM block=%s bytes=%d rc=%d peak_growth_kib=%ld\n", k ? "write" : "read", bytes, rc,
               hwm - rss0);
    }
    p_mclose(mf);
    return fails;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void load_lib(struct lib *l, const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "mtcr_bench: dlopen: %s\n", dlerror());
        exit(2);
    }
    l->mopen = (mopen_fn)must_sym(h, "mopen");
    l->mclose = (mclose_fn)must_sym(h, "mclose");
    l->mread4 = (mread4_fn)must_sym(h, "mread4");
    l->mwrite4 = (mwrite4_fn)must_sym(h, "mwrite4");
    l->mread4_block = (mblock_fn)must_sym(h, "mread4_block");
    l->mwrite4_block = (mblock_fn)must_sym(h, "mwrite4_block");
    l->maccess_reg = (maccess_reg_fn)dlsym(h, "maccess_reg");
    l->mf = NULL;
}

/* One timed repetition of row r on the current library: ns per dword (per op for open). */
static double time_rep(const struct row *r, int *fails)
{
    int dwords = r->bytes / 4;
    double t0 = now_ns();
    for (int i = 0; i < r->ops; i++)
        if (one_op(r, cur->mf, (unsigned int)i) != 0)
            (*fails)++;
    return (now_ns() - t0) / ((double)r->ops * (dwords ? dwords : 1));
}

static int row_selected(const char *sel, const char *name)
{
    /* exact match of one comma-separated item */
    const char *p = sel;
    size_t n = strlen(name);
    if (!sel)
        return 1;
    while (p && *p) {
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0))
            return 1;
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return 0;
}

#define USAGE "usage: %s [-r REPS] [-o ROWS] [-n ITERS] [-s DIR] [-m COUNT] [-a ADDR] [-B LIB2] LIB DEVICE\n"

int main(int argc, char **argv)
{
    int reps = 5, opt, fails = 0;
    long fixed_iters = -1, mem_count = 0;
    const char *rows_sel = NULL, *snapdir = NULL, *lib2 = NULL;

    while ((opt = getopt(argc, argv, "r:o:n:s:m:a:B:")) != -1) {
        switch (opt) {
        case 'r': reps = atoi(optarg); break;
        case 'o': rows_sel = optarg; break;
        case 'n': fixed_iters = atol(optarg); break;
        case 's': snapdir = optarg; break;
        case 'm': mem_count = atol(optarg); break;
        case 'a': g_addr = (unsigned int)strtoul(optarg, NULL, 0); break;
        case 'B': lib2 = optarg; break;
        default:
            fprintf(stderr, USAGE, argv[0]);
            return 2;
        }
    }
    if (argc - optind != 2 || reps < 1 || (lib2 && (fixed_iters >= 0 || mem_count > 0))) {
        fprintf(stderr, USAGE, argv[0]);
        return 2;
    }
    g_dev = argv[optind + 1];
    load_lib(&g_libs[0], argv[optind]);
    if (lib2) {
        load_lib(&g_libs[1], lib2);
        g_nlibs = 2;
    }

    g_buf = malloc(1 << 20);
    if (!g_buf)
        return 2;
    memset(g_buf, 0xa5, 1 << 20); /* resident now (a zero fill may become calloc) */

    for (size_t ri = 0; ri < NROWS; ri++) {
        const struct row *r = &ROWS[ri];
        int dwords = r->bytes / 4;
        double *per[2], *ratio;
        if (!row_selected(rows_sel, r->name))
            continue;
        for (int l = 0; l < g_nlibs; l++) {
            cur = &g_libs[l];
            if (r->kind != K_OPEN && !cur->mf)
                cur->mf = open_dev();
        }
        cur = &g_libs[0];
        if (r->kind == K_WRITE4 || r->kind == K_WBLK) {
            int need = r->kind == K_WRITE4 ? r->ops * 4 : r->bytes;
            if (need > g_filled) {
                if (p_mread4_block(cur->mf, g_addr, g_buf, need) != need) {
                    fprintf(stderr, "mtcr_bench: prefill read of %d bytes failed\n", need);
                    return 1;
                }
                g_filled = need;
            }
        }
        if (fixed_iters >= 0) {
            for (long i = 0; i < fixed_iters; i++)
                if (one_op(r, cur->mf, (unsigned int)i) != 0)
                    fails++;
            printf("ROW name=%s dwords=%d ops=%ld reps=1 untimed\n", r->name, dwords, fixed_iters);
            continue;
        }
        /* warm-up operation per library, not timed, not counted */
        for (int l = 0; l < g_nlibs; l++) {
            cur = &g_libs[l];
            if (one_op(r, cur->mf, 0) != 0)
                fails++;
        }
        per[0] = calloc((size_t)reps, sizeof(double));
        per[1] = calloc((size_t)reps, sizeof(double));
        ratio = calloc((size_t)reps, sizeof(double));
        if (!per[0] || !per[1] || !ratio)
            return 2;
        if (g_nlibs == 1) {
            cur = &g_libs[0];
            snapshot(snapdir, r->name, -1, "before");
            for (int k = 0; k < reps; k++)
                per[0][k] = time_rep(r, &fails);
            snapshot(snapdir, r->name, -1, "after");
        } else {
            /* A B, B A, A B, ...: drift of the machine's speed hits both alike */
            for (int k = 0; k < reps; k++) {
                for (int j = 0; j < 2; j++) {
                    int l = k % 2 ? 1 - j : j;
                    cur = &g_libs[l];
                    if (k == 0)
                        snapshot(snapdir, r->name, l, "before");
                    per[l][k] = time_rep(r, &fails);
                    if (k == 0)
                        snapshot(snapdir, r->name, l, "after");
                }
                ratio[k] = per[0][k] / per[1][k];
            }
        }
        for (int l = 0; l < g_nlibs; l++) {
            double med = median(per[l], reps);
            if (g_nlibs == 1)
                printf("ROW name=%s", r->name);
            else
                printf("ROW lib=%d name=%s", l, r->name);
            printf(" dwords=%d ops=%d reps=%d median_ns_per_dword=%.1f min_ns_per_dword=%.1f\n",
                   dwords, r->ops, reps, med, per[l][0]);
        }
        if (g_nlibs == 2)
            printf("RATIO name=%s reps=%d median=%.4f\n", r->name, reps, median(ratio, reps));
        fflush(stdout);
        free(per[0]);
        free(per[1]);
        free(ratio);
    }
    cur = &g_libs[0];
    if (mem_count > 0) {
        if (cur->mf) {
            p_mclose(cur->mf);
            cur->mf = NULL;
        }
        fails += memory_check(mem_count);
    }
    for (int l = 0; l < g_nlibs; l++) {
        cur = &g_libs[l];
        if (cur->mf)
            p_mclose(cur->mf);
    }
    if (fails)
        fprintf(stderr, "mtcr_bench: %d operations failed\n", fails);
    printf("DONE failures=%d\n", fails);
    return fails ? 1 : 0;
}
