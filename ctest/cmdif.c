/* ctest-config: cx3
 * The tools HCR ("cmdif", ConnectX-3 family): tools_cmdif_is_supported / is_cr_mbox_supported /
 * unlock_semaphore / send_inline_cmd(_int) / send_mbox_command(_int) / reg_access,
 * maccess_reg_cmdif, and maccess_reg / mget_max_reg_size over the HCR. Every call is made
 * through this library and through Debian's stock cmtcr.so (dlopen'ed with RTLD_DEEPBIND, so
 * it keeps its own libmtcr) on the same simulated device, and the return codes, out params and
 * data must be the same, result for result:
 *  - 05:00.0, the default ConnectX-5 (no HCR: the addresses are plain crspace). The state the
 *    calls leave there (semaphore, HCR, CR mailbox) is saved before our call and restored
 *    before stock's, so that both start from the same state;
 *  - 07:00.0, a ConnectX-3 with a tools HCR and a CR mailbox; 08:00.0, one without CR mailbox.
 * Bad input (NULL mfile / data / in_param, negative or too large sizes, misplaced offsets)
 * gets ME_BAD_PARAMS from us; stock only where it does not crash on it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mtcr.h"
#include "tap.h"
#include "tools_cif.h"


#define STOCK "/usr/lib/x86_64-linux-gnu/mstflint/python_tools/cmtcr.so"
#define OP_NOP 0x31
#define OP_REG_ACCESS 0x3b
#define OP_MBOX_WRITE 0x70
#define OP_MBOX_READ 0x71
#define HCR 0x80780
#define HCR_SEM 0xf03bc
#define CR_MBOX 0xe0000
#define KNOB_BUSY_POLLS 0x807a0 /* sim-only knobs of the HCR model (sim/README.md) */
#define KNOB_STATUS 0x807a4
#define MGIR 0x9020
#define MPEGC 0x9056

/* One library's entry points, on `void *` handles. */
struct lib {
    const char *name;
    void *(*mopen)(const char *);
    int (*mclose)(void *);
    int (*is_supported)(void *);
    int (*is_cr_mbox)(void *);
    int (*unlock)(void *);
    int (*inl)(void *, u_int64_t, u_int64_t *, u_int32_t, u_int16_t, u_int8_t);
    int (*inl_int)(void *, u_int32_t *, u_int32_t *, u_int32_t, u_int16_t, u_int8_t);
    int (*mbox)(void *, u_int32_t, u_int16_t, u_int8_t, int, void *, int, int);
    int (*mbox_int)(void *, u_int32_t, u_int16_t, u_int8_t, int, void *, int, int, int, int);
    int (*reg_access)(void *, void *, int, int);
    int (*maccess)(void *, u_int16_t, maccess_reg_method_t, void *, u_int32_t, u_int32_t,
                   u_int32_t, int *);
    int (*max_reg)(void *, maccess_reg_method_t);
    int (*reg_cmdif)(void *, reg_access_t, void *, u_int32_t);
};

/* Ours, through the prototypes (mfile * <-> void *). */
static void *o_mopen(const char *n) { return mopen(n); }
static int o_mclose(void *m) { return mclose(m); }
static int o_is_supported(void *m) { return tools_cmdif_is_supported(m); }
static int o_is_cr_mbox(void *m) { return tools_cmdif_is_cr_mbox_supported(m); }
static int o_unlock(void *m) { return tools_cmdif_unlock_semaphore(m); }
static int o_inl(void *m, u_int64_t i, u_int64_t *o, u_int32_t im, u_int16_t op, u_int8_t om)
{
    return tools_cmdif_send_inline_cmd(m, i, o, im, op, om);
}
static int o_inl_int(void *m, u_int32_t *i, u_int32_t *o, u_int32_t im, u_int16_t op, u_int8_t om)
{
    return tools_cmdif_send_inline_cmd_int(m, i, o, im, op, om);
}
static int o_mbox(void *m, u_int32_t im, u_int16_t op, u_int8_t om, int offs, void *d, int n, int skip)
{
    return tools_cmdif_send_mbox_command(m, im, op, om, offs, d, n, skip);
}
static int o_mbox_int(void *m, u_int32_t im, u_int16_t op, u_int8_t om, int offs, void *d, int w, int r,
                      int skip, int cr)
{
    return tools_cmdif_send_mbox_command_int(m, im, op, om, offs, d, w, r, skip, cr);
}
static int o_reg_access(void *m, void *d, int w, int r) { return tools_cmdif_reg_access(m, d, w, r); }
static int o_maccess(void *m, u_int16_t id, maccess_reg_method_t meth, void *d, u_int32_t s, u_int32_t r,
                     u_int32_t w, int *st)
{
    return maccess_reg(m, id, meth, d, s, r, w, st);
}
static int o_max_reg(void *m, maccess_reg_method_t meth) { return mget_max_reg_size(m, meth); }
static int o_reg_cmdif(void *m, reg_access_t ra, void *d, u_int32_t t) { return maccess_reg_cmdif(m, ra, d, t); }

static struct lib ours = {"ours",      o_mopen,      o_mclose,   o_is_supported, o_is_cr_mbox,
                          o_unlock,    o_inl,        o_inl_int,  o_mbox,         o_mbox_int,
                          o_reg_access, o_maccess,   o_max_reg,  o_reg_cmdif};
static struct lib stock = {"stock", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};

#define SYM(field, name)                                                                        \
    do {                                                                                        \
        *(void **)(&stock.field) = dlsym(h, name);                                              \
        ok &= stock.field != NULL;                                                              \
    } while (0)

static int load_stock(void)
{
    void *h = dlopen(STOCK, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!CHECK(h != NULL, "stock cmtcr.so loaded (%s)", h ? STOCK : dlerror())) {
        return 0;
    }
    int ok = 1;
    SYM(mopen, "mopen");
    SYM(mclose, "mclose");
    SYM(is_supported, "tools_cmdif_is_supported");
    SYM(is_cr_mbox, "tools_cmdif_is_cr_mbox_supported");
    SYM(unlock, "tools_cmdif_unlock_semaphore");
    SYM(inl, "tools_cmdif_send_inline_cmd");
    SYM(inl_int, "tools_cmdif_send_inline_cmd_int");
    SYM(mbox, "tools_cmdif_send_mbox_command");
    SYM(mbox_int, "tools_cmdif_send_mbox_command_int");
    SYM(reg_access, "tools_cmdif_reg_access");
    SYM(maccess, "maccess_reg");
    SYM(max_reg, "mget_max_reg_size");
    SYM(reg_cmdif, "maccess_reg_cmdif");
    return CHECK(ok, "stock exports every tools_cmdif_* function");
}

/* A device opened through both libraries, plus a config-space mfile of ours for the sim
 * knobs (a memory-mapped store bypasses the model). */
struct dev {
    const char *bdf;
    void *h[2]; /* ours, stock */
    mfile *knob;
    int plain;  /* no HCR model: save/restore the touched crspace between the libraries */
    u_int32_t saved[9];
};

static const u_int32_t touched[9] = {HCR_SEM, HCR, HCR + 4, HCR + 8, HCR + 12, HCR + 16, HCR + 20, HCR + 24,
                                     CR_MBOX};

static void save(struct dev *d)
{
    if (d->plain) {
        for (int i = 0; i < 9; i++) {
            mread4(d->knob, touched[i], &d->saved[i]);
        }
    }
}

static void restore(struct dev *d)
{
    if (d->plain) {
        for (int i = 0; i < 9; i++) {
            mwrite4(d->knob, touched[i], d->saved[i]);
        }
    }
}

static void knob(struct dev *d, u_int32_t addr, u_int32_t v)
{
    CHECK(mwrite4(d->knob, addr, v) == 4, "%s: sim knob %#x = %#x", d->bdf, addr, v);
}

static struct lib *libs[2] = {&ours, &stock};
static int have_stock;

/* Run EXPR (using L, a struct lib *, and H, its handle) for ours then stock, from the same
 * device state; RC[0] / RC[1] get the results. */
#define BOTH(d, rc, ...)                                                                        \
    do {                                                                                        \
        save(d);                                                                                \
        for (int k_ = 0; k_ < 1 + have_stock; k_++) {                                           \
            struct lib *L = libs[k_];                                                           \
            void *H = (d)->h[k_];                                                               \
            (void)L;                                                                            \
            (void)H;                                                                            \
            if (k_ == 1) {                                                                      \
                restore(d);                                                                     \
            }                                                                                   \
            rc[k_] = (__VA_ARGS__);                                                             \
        }                                                                                       \
    } while (0)

static void check_rc(const struct dev *d, const char *what, int rc[2], int want)
{
    if (have_stock) {
        CHECK(rc[0] == want && rc[1] == want, "%s: %s: %#x \"%s\" (stock %#x)", d->bdf, what, rc[0],
              m_err2str(rc[0]), rc[1]);
    } else {
        CHECK(rc[0] == want, "%s: %s: %#x \"%s\"", d->bdf, what, rc[0], m_err2str(rc[0]));
    }
}

/* The stock results on the default ConnectX-5 (no HCR there). */
static void connectx5(struct dev *d)
{
    int rc[2];
    u_int64_t out[2] = {0x1111, 0x1111};
    u_int8_t buf[2][16];
    tap_diag("%s: ConnectX-5 without HCR (stock takes about 36 s here)", d->bdf);
    BOTH(d, rc, L->is_supported(H));
    check_rc(d, "is_supported: semaphore word (seed pattern) never reads 0", rc, ME_SEM_LOCKED);
    BOTH(d, rc, L->is_cr_mbox(H));
    check_rc(d, "is_cr_mbox_supported", rc, ME_SEM_LOCKED);
    BOTH(d, rc, L->unlock(H));
    check_rc(d, "unlock_semaphore writes 0", rc, ME_OK);
    BOTH(d, rc, L->inl(H, 0x1234, &out[k_], 0, OP_NOP, 0));
    check_rc(d, "send_inline_cmd: go bit never clears", rc, ME_CMDIF_TOUT);
    CHECK(out[0] == 0 && (!have_stock || out[1] == 0), "out_param 0 (stock %#llx)",
          (unsigned long long)out[1]);
    memset(buf, 0x5a, sizeof(buf));
    BOTH(d, rc, L->mbox(H, 0, OP_NOP, 0, 0, buf[k_], 16, 0));
    check_rc(d, "send_mbox_command: go bit still set", rc, ME_CMDIF_BUSY);
    CHECK(buf[0][0] == 0x5a && memcmp(buf[0], buf[have_stock], 16) == 0, "data untouched");
    /* Put the device back as it was (plain crspace). */
    restore(d);
}

static void statuses(struct dev *d)
{
    int rc[2];
    static const struct {
        u_int32_t status;
        int me;
    } st[] = {{1, ME_CMDIF_BUSY}, {2, ME_CMDIF_BAD_OP}, {3, ME_CMDIF_UNKN_TLV}, {4, ME_CMDIF_BAD_SYS},
              {5, ME_CMDIF_UNKN_STATUS}, {9, ME_CMDIF_RES_STATE}, {0x40, ME_CMDIF_UNKN_STATUS}};
    for (unsigned i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
        u_int64_t out[2] = {7, 7};
        BOTH(d, rc, (knob(d, KNOB_STATUS, st[i].status), L->inl(H, 0, &out[k_], 0, OP_NOP, 0)));
        char what[64];
        snprintf(what, sizeof(what), "HCR status %#x", st[i].status);
        check_rc(d, what, rc, st[i].me);
        CHECK(out[0] == 0 && (!have_stock || out[1] == 0), "out_param 0 with status %#x", st[i].status);
    }
}

static void inline_cmds(struct dev *d)
{
    int rc[2];
    u_int64_t out[2];
    const u_int64_t v = 0x0123456789abcdefULL;
    BOTH(d, rc, L->inl(H, v, NULL, 6, OP_MBOX_WRITE, 0));
    check_rc(d, "inline MBOX_WRITE (out_param NULL)", rc, ME_OK);
    out[0] = out[1] = 0;
    BOTH(d, rc, L->inl(H, 0, &out[k_], 6, OP_MBOX_READ, 0));
    check_rc(d, "inline MBOX_READ", rc, ME_OK);
    CHECK(out[0] == v && (!have_stock || out[1] == v), "out_param %#llx (stock %#llx)",
          (unsigned long long)out[0], (unsigned long long)out[1]);
    u_int32_t in2[2] = {0xdddd0001, 0xcccc0002}, out2[2][2] = {{0, 0}, {0, 0}};
    BOTH(d, rc, L->inl_int(H, in2, NULL, 10, OP_MBOX_WRITE, 0));
    check_rc(d, "inline_int MBOX_WRITE", rc, ME_OK);
    BOTH(d, rc, L->inl_int(H, in2, out2[k_], 10, OP_MBOX_READ, 0));
    check_rc(d, "inline_int MBOX_READ", rc, ME_OK);
    CHECK(out2[0][0] == in2[0] && out2[0][1] == in2[1] && (!have_stock || memcmp(out2[0], out2[1], 8) == 0),
          "inline_int out_param low dword first: %#x %#x", out2[0][0], out2[0][1]);
    out[0] = out[1] = 9;
    BOTH(d, rc, L->inl(H, 0, &out[k_], 0, 0x7ee, 0));
    check_rc(d, "unknown opcode", rc, ME_CMDIF_BAD_OP);
    CHECK(out[0] == 0 && (!have_stock || out[1] == 0), "out_param 0 after a bad opcode");
    BOTH(d, rc, L->inl(H, 0, &out[k_], 5, OP_MBOX_READ, 0));
    check_rc(d, "MBOX_READ at an odd dword (status 3)", rc, ME_CMDIF_UNKN_TLV);
    BOTH(d, rc, L->inl(H, 0, &out[k_], 0, OP_NOP, 0));
    check_rc(d, "NOP", rc, ME_OK);
    if (have_stock) {
        /* Across the libraries: what one writes into the mailbox, the other reads. */
        u_int64_t a = 0x0badcafe12345678ULL, b = 0;
        int w = ours.inl(d->h[0], a, NULL, 12, OP_MBOX_WRITE, 0);
        int r = stock.inl(d->h[1], 0, &b, 12, OP_MBOX_READ, 0);
        CHECK(w == ME_OK && r == ME_OK && b == a, "%s: ours MBOX_WRITE, stock MBOX_READ: %#llx", d->bdf,
              (unsigned long long)b);
        a = ~a, b = 0;
        w = stock.inl(d->h[1], a, NULL, 12, OP_MBOX_WRITE, 0);
        r = ours.inl(d->h[0], 0, &b, 12, OP_MBOX_READ, 0);
        CHECK(w == ME_OK && r == ME_OK && b == a, "%s: stock MBOX_WRITE, ours MBOX_READ: %#llx", d->bdf,
              (unsigned long long)b);
    }
    knob(d, KNOB_BUSY_POLLS, 40);
    BOTH(d, rc, L->inl(H, 0, &out[k_], 6, OP_MBOX_READ, 0));
    check_rc(d, "a command busy for 40 polls is waited for", rc, ME_OK);
    CHECK(out[0] == v && (!have_stock || out[1] == v), "and answers");
    knob(d, KNOB_BUSY_POLLS, 0);
}

static void mailbox(struct dev *d, int cr_mbox)
{
    int rc[2];
    u_int8_t data[64], buf[2][300];
    for (int i = 0; i < 64; i++) {
        data[i] = (u_int8_t)(i * 37 + 11);
    }
    memcpy(buf[0], data, 40);
    memcpy(buf[1], data, 40);
    BOTH(d, rc, L->mbox(H, 0, OP_NOP, 0, 16, buf[k_], 40, 0));
    check_rc(d, "send_mbox_command NOP, 40 bytes at 16", rc, ME_OK);
    CHECK(memcmp(buf[0], data, 40) == 0 && (!have_stock || memcmp(buf[1], data, 40) == 0),
          "mailbox data reads back");
    memset(buf, 0, sizeof(buf));
    BOTH(d, rc, L->mbox(H, 0, OP_NOP, 0, 16, buf[k_], 40, 1));
    check_rc(d, "send_mbox_command skip_write", rc, ME_OK);
    CHECK(memcmp(buf[0], data, 40) == 0 && (!have_stock || memcmp(buf[1], data, 40) == 0),
          "skip_write reads what the mailbox holds");
    memset(buf, 0xee, sizeof(buf));
    BOTH(d, rc, L->mbox_int(H, 0, OP_NOP, 0, 16, buf[k_], 0, 13, 1, 0));
    check_rc(d, "send_mbox_command_int: 13 bytes read", rc, ME_OK);
    CHECK(memcmp(buf[0], data, 13) == 0 && buf[0][13] == 0xee && (!have_stock || memcmp(buf[0], buf[1], 14) == 0),
          "exactly 13 bytes written back");
    if (cr_mbox) {
        memcpy(buf[0], data, 64);
        memcpy(buf[1], data, 64);
        BOTH(d, rc, L->mbox_int(H, 0, OP_NOP, 0, 8, buf[k_], 64, 64, 0, 1));
        check_rc(d, "send_mbox_command_int through the CR mailbox", rc, ME_OK);
        u_int32_t w = 0;
        int n = mread4(d->knob, CR_MBOX + 8, &w);
        CHECK(n == 4 && w == ((u_int32_t)data[0] << 24 | (u_int32_t)data[1] << 16 | (u_int32_t)data[2] << 8 | data[3]),
              "CR mailbox holds the data big-endian at 0xe0008 (%#x)", w);
        CHECK(memcmp(buf[0], data, 64) == 0 && (!have_stock || memcmp(buf[1], data, 64) == 0), "and reads back");
    }
    BOTH(d, rc, L->mbox(H, 0, 0x7ee, 0, 0, buf[k_], 8, 0));
    check_rc(d, "send_mbox_command with an unknown opcode", rc, ME_CMDIF_BAD_OP);
    /* Misplaced data: both refuse before touching the device. */
    static const struct {
        int offs, w, r;
    } bad[] = {{4, 8, 8}, {280, 16, 16}, {0, 289, 289}, {288, 1, 1}, {-8, 8, 8}};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        BOTH(d, rc, L->mbox_int(H, 0, OP_NOP, 0, bad[i].offs, buf[k_], bad[i].w, bad[i].r, 0, 0));
        char what[80];
        snprintf(what, sizeof(what), "mailbox offset %d, %d/%d bytes", bad[i].offs, bad[i].w, bad[i].r);
        check_rc(d, what, rc, ME_BAD_PARAMS);
    }
    BOTH(d, rc, L->mbox(H, 0, OP_NOP, 0, 0, NULL, 8, 0));
    check_rc(d, "NULL data", rc, ME_BAD_PARAMS);
    /* Stock reads and writes out of bounds with negative sizes: ours only. */
    CHECK(tools_cmdif_send_mbox_command(d->h[0], 0, OP_NOP, 0, 0, buf[0], -1, 0) == ME_BAD_PARAMS,
          "%s: negative data_size: ME_BAD_PARAMS", d->bdf);
    CHECK(tools_cmdif_send_mbox_command_int(d->h[0], 0, OP_NOP, 0, 0, buf[0], 8, -8, 0, 0) == ME_BAD_PARAMS,
          "%s: negative read size: ME_BAD_PARAMS", d->bdf);
    CHECK(tools_cmdif_reg_access(d->h[0], buf[0], -4, 16) == ME_BAD_PARAMS &&
              tools_cmdif_reg_access(d->h[0], NULL, 16, 16) == ME_BAD_PARAMS &&
              tools_cmdif_reg_access(d->h[0], buf[0], 16, 400) == ME_BAD_PARAMS,
          "%s: reg_access with a negative / too large size or NULL data: ME_BAD_PARAMS", d->bdf);
    CHECK(tools_cmdif_send_inline_cmd_int(d->h[0], NULL, NULL, 0, OP_NOP, 0) == ME_BAD_PARAMS,
          "%s: inline_int with NULL in_param: ME_BAD_PARAMS", d->bdf);
}

/* ACCESS_REGISTER through tools_cmdif_reg_access (TLVs built here) and maccess_reg. */
static void registers(struct dev *d, int cr_mbox)
{
    int rc[2], st[2];
    u_int8_t buf[2][300];
    memset(buf, 0, sizeof(buf));
    for (int k = 0; k < 2; k++) {
        u_int8_t *b = buf[k];
        b[0] = 0x08, b[1] = 0x04;                         /* operation TLV, 4 dwords */
        b[4] = 0x90, b[5] = 0x20, b[6] = 0x01, b[7] = 0x01; /* MGIR, GET, class 1 */
        b[16] = 0x18, b[17] = 41;                         /* register TLV, 41 dwords */
    }
    BOTH(d, rc, L->reg_access(H, buf[k_], 180, 180));
    check_rc(d, "tools_cmdif_reg_access MGIR", rc, ME_OK);
    CHECK((buf[0][2] & 0x7f) == 0 && (buf[0][6] & 0x80) != 0 && buf[0][22] == 0x01 && buf[0][23] == 0xf5,
          "register status 0, response bit set, MGIR device id %02x%02x", buf[0][22], buf[0][23]);
    CHECK(!have_stock || memcmp(buf[0], buf[1], 180) == 0, "same bytes as stock");
    CHECK(((mfile *)d->h[0])->hcr_params.supp_cr_mbox == (cr_mbox ? 1 : -1), "hcr_params records the CR mailbox: %d",
          ((mfile *)d->h[0])->hcr_params.supp_cr_mbox);

    BOTH(d, rc, L->max_reg(H, MACCESS_REG_METHOD_GET));
    /* mstflint 4.21 (Debian) subtracts 12 header bytes (276); v4.36 subtracts 20 (268), which
     * is what this library does (as for ICMD, see reg.c). */
    CHECK(rc[0] == 268 && (!have_stock || rc[1] == 276), "%s: mget_max_reg_size 268 (stock 4.21: %d)",
          d->bdf, rc[1]);

    memset(buf, 0, sizeof(buf));
    BOTH(d, rc, L->maccess(H, MGIR, MACCESS_REG_METHOD_GET, buf[k_], 160, 160, 160, &st[k_]));
    check_rc(d, "maccess_reg MGIR over the HCR", rc, ME_OK);
    CHECK(st[0] == 0 && buf[0][2] == 0x01 && buf[0][3] == 0xf5 && (!have_stock || (st[1] == 0 && memcmp(buf[0], buf[1], 160) == 0)),
          "MGIR device id %02x%02x, same as stock", buf[0][2], buf[0][3]);
    for (int i = 0; i < 44; i++) {
        buf[0][i] = buf[1][i] = (u_int8_t)(i * 5 + 3);
    }
    BOTH(d, rc, L->maccess(H, MPEGC, MACCESS_REG_METHOD_SET, buf[k_], 44, 44, 44, &st[k_]));
    check_rc(d, "maccess_reg MPEGC set", rc, ME_OK);
    memset(buf, 0, sizeof(buf));
    BOTH(d, rc, L->maccess(H, MPEGC, MACCESS_REG_METHOD_GET, buf[k_], 44, 44, 44, &st[k_]));
    check_rc(d, "maccess_reg MPEGC get", rc, ME_OK);
    int okv = 1;
    for (int i = 0; i < 44; i++) {
        okv &= buf[0][i] == (u_int8_t)(i * 5 + 3) && (!have_stock || buf[1][i] == buf[0][i]);
    }
    CHECK(okv, "MPEGC reads back what was written");
    BOTH(d, rc, L->maccess(H, 0x9999, MACCESS_REG_METHOD_GET, buf[k_], 16, 16, 16, &st[k_]));
    check_rc(d, "maccess_reg unknown register", rc, ME_REG_ACCESS_REG_NOT_SUPP);
    CHECK(st[0] == 4 && (!have_stock || st[1] == 4), "status 4");
    BOTH(d, rc, L->maccess(H, MGIR, MACCESS_REG_METHOD_SET, buf[k_], 160, 160, 160, &st[k_]));
    check_rc(d, "maccess_reg SET of read-only MGIR", rc, ME_REG_ACCESS_METHOD_NOT_SUPP);
    st[0] = -1;
    CHECK(maccess_reg(d->h[0], MGIR, MACCESS_REG_METHOD_GET, buf[0], 269, 269, 269, &st[0]) ==
                  ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT && st[0] == -1,
          "%s: 269 bytes: ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT", d->bdf);
    BOTH(d, rc, L->reg_cmdif(H, RA_MFPA, buf[k_], 0));
    check_rc(d, "maccess_reg_cmdif (stub in stock too)", rc, ME_NOT_IMPLEMENTED);
}

/* Mark this process as a live owner of the tools-HCR semaphore of `bdf` the way our library's
 * users do (docs/RELIABILITY.md: a shared OFD lock on byte 2 of <lockdir>/<bdf>_owner).
 * Returns the descriptor (closing it removes the mark), or -1. */
static int owner_mark(const char *bdf)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/mstflint_lockfiles/%s_owner", bdf);
    int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 1};
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void semaphore(struct dev *d)
{
    int rc[2];
    u_int32_t v = 1;
    /* Someone else, alive and marked as owner, takes the semaphore: reading 0 takes it. */
    int mark = owner_mark(d->bdf);
    CHECK(mark >= 0, "%s: owner mark", d->bdf);
    int n = mread4(d->knob, HCR_SEM, &v);
    CHECK(n == 4 && v == 0, "%s: semaphore taken by another user", d->bdf);
    BOTH(d, rc, L->is_supported(H));
    check_rc(d, "is_supported with the semaphore taken", rc, ME_SEM_LOCKED);
    u_int64_t out[2] = {5, 5};
    BOTH(d, rc, L->inl(H, 0, &out[k_], 0, OP_NOP, 0));
    check_rc(d, "inline with the semaphore taken", rc, ME_SEM_LOCKED);
    CHECK(out[0] == 5 && (!have_stock || out[1] == 5), "out_param untouched");
    BOTH(d, rc, L->unlock(H));
    check_rc(d, "unlock_semaphore", rc, ME_OK);
    BOTH(d, rc, L->is_supported(H));
    check_rc(d, "is_supported after unlock", rc, ME_OK);
    /* The owner dies (mark gone) leaving the semaphore taken, HCR idle: ours frees it after
     * the stale period (1 s) and goes on within the bound; stock would report ME_SEM_LOCKED. */
    v = 1;
    n = mread4(d->knob, HCR_SEM, &v);
    CHECK(n == 4 && v == 0, "%s: semaphore taken again", d->bdf);
    close(mark);
    double t0 = now_s();
    int r = tools_cmdif_is_supported(d->h[0]);
    double dt = now_s() - t0;
    CHECK(r == ME_OK && dt >= 1.0 && dt < 2.5, "%s: dead owner's semaphore recovered: %#x in %.2f s",
          d->bdf, r, dt);
}

static int open_dev(struct dev *d)
{
    char cfg[96];
    d->h[0] = ours.mopen(d->bdf);
    d->h[1] = have_stock ? stock.mopen(d->bdf) : NULL;
    snprintf(cfg, sizeof(cfg), "/sys/bus/pci/devices/%s/config", d->bdf);
    d->knob = mopen(cfg);
    return CHECK(d->h[0] && d->knob && (!have_stock || d->h[1]), "%s: opened (ours %s, stock %s)", d->bdf,
                 d->h[0] ? "ok" : mtcr_last_error(), d->h[1] ? "ok" : "-");
}

static void close_dev(struct dev *d)
{
    for (int k = 0; k < 1 + have_stock; k++) {
        if (d->h[k]) {
            libs[k]->mclose(d->h[k]);
        }
    }
    mclose(d->knob);
}

int main(void)
{
    int rc[2];
    have_stock = load_stock();
    struct dev cx5 = {"0000:05:00.0", {NULL, NULL}, NULL, 1, {0}};
    struct dev cx3 = {"0000:07:00.0", {NULL, NULL}, NULL, 0, {0}};
    struct dev cx3n = {"0000:08:00.0", {NULL, NULL}, NULL, 0, {0}};

    /* NULL mfile: stock checks it in these (the others crash on it). */
    struct dev null = {"NULL", {NULL, NULL}, NULL, 0, {0}};
    BOTH(&null, rc, L->is_supported(NULL));
    check_rc(&null, "is_supported", rc, ME_BAD_PARAMS);
    BOTH(&null, rc, L->inl(NULL, 0, NULL, 0, OP_NOP, 0));
    check_rc(&null, "send_inline_cmd", rc, ME_BAD_PARAMS);
    u_int8_t scratch[16] = {0};
    BOTH(&null, rc, L->mbox(NULL, 0, OP_NOP, 0, 0, scratch, 8, 0));
    check_rc(&null, "send_mbox_command", rc, ME_BAD_PARAMS);
    CHECK(tools_cmdif_is_cr_mbox_supported(NULL) == ME_BAD_PARAMS && tools_cmdif_unlock_semaphore(NULL) == ME_BAD_PARAMS &&
              tools_cmdif_reg_access(NULL, scratch, 8, 8) == ME_BAD_PARAMS,
          "NULL mfile elsewhere: ME_BAD_PARAMS (stock crashes)");

    if (open_dev(&cx3)) {
        BOTH(&cx3, rc, L->is_supported(H));
        check_rc(&cx3, "is_supported", rc, ME_OK);
        BOTH(&cx3, rc, L->is_cr_mbox(H));
        check_rc(&cx3, "is_cr_mbox_supported", rc, ME_OK);
        inline_cmds(&cx3);
        statuses(&cx3);
        mailbox(&cx3, 1);
        registers(&cx3, 1);
        semaphore(&cx3);
        close_dev(&cx3);
    }
    if (open_dev(&cx3n)) {
        BOTH(&cx3n, rc, L->is_cr_mbox(H));
        check_rc(&cx3n, "is_cr_mbox_supported without a CR mailbox", rc, ME_CMDIF_NOT_SUPP);
        mailbox(&cx3n, 0);
        registers(&cx3n, 0);
        close_dev(&cx3n);
    }
    if (open_dev(&cx5)) {
        connectx5(&cx5);
        close_dev(&cx5);
    }
    return tap_done();
}
