/* ctest-config: badinput
 * Bad input to every exported function, table-driven: NULL handles and buffers, negative, zero,
 * unaligned and huge sizes, offsets past the end, offset+size overflow, names too long or with
 * odd bytes, a non-Mellanox function, files that are not PCI devices. Each gets the documented
 * return value and errno (mtcr_api.md conventions), never a crash (valgrind checks the accesses
 * in `make valgrind-ctest`). The canary words around every buffer must stay untouched. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mtcr.h"
#include "tap.h"
#include "tools_cif.h"

#define CANARY 0xc0debabeu
#define ANY_ERRNO (-1)

enum op { RD4B, WR4B, RDBUF, WRBUF };
static const char *op_name[] = {"mread4_block", "mwrite4_block", "mread_buffer", "mwrite_buffer"};

struct block_case {
    const char *what;
    unsigned int offset;
    int len;          /* byte_len passed */
    int null_data;    /* pass NULL as the buffer */
    int rc_vsec;      /* expected return on the VSEC path */
    int rc_mem;       /* expected return on the memory path */
    int err;          /* expected errno (ANY_ERRNO: any non-zero), 0: success */
};

static const struct block_case block_cases[] = {
    {"zero length", 0x100000, 0, 0, 0, 0, 0},
    {"negative length", 0x100000, -4, 0, -1, -1, EINVAL},
    {"INT_MIN length", 0x100000, INT_MIN, 0, -1, -1, EINVAL},
    {"unaligned length 3", 0x100000, 3, 0, -1, EINVAL, EINVAL},
    {"unaligned length 6", 0x100000, 6, 0, -1, EINVAL, EINVAL},
    {"NULL buffer", 0x100000, 16, 1, -1, -1, EINVAL},
    {"offset+len overflows 2^32", 0xfffffff0u, 32, 0, -1, -1, EINVAL},
    {"offset 0xfffffffc + 8", 0xfffffffcu, 8, 0, -1, -1, EINVAL},
    {"past the end of crspace (64 MiB) on memory / 2^30 gateway limit", 0x3ffffff0u, 64, 0, -1, -1,
     EINVAL},
    {"offset far past the end", 0x7ffffff0u, 16, 0, -1, -1, EINVAL},
};

static const char *names_bad[] = {
    "", "garbage", "05:00", "05:00.8", "0000:05:00.0 ", " 0000:05:00.0", "0000:05:00.0\n",
    "0000:05:00.0\t", "05:00.0\xff", "\xff\xfe\xfd", "mlx5_", "mlx5_99999999999999999999",
    "/dev/mst/mt4119", "pciconf-", "pciconf-zz:00.0", "0000:05:00.0/../../../../etc/passwd",
    "%s%s%s%n", "-1", "ffffff:05:00.0",
};

static int run_block(enum op o, mfile *mf, unsigned int off, void *buf, int len)
{
    switch (o) {
    case RD4B:
        return mread4_block(mf, off, buf, len);
    case WR4B:
        return mwrite4_block(mf, off, buf, len);
    case RDBUF:
        return mread_buffer(mf, off, buf, len);
    default:
        return mwrite_buffer(mf, off, buf, len);
    }
}

static int err_ok(int got, int want)
{
    return want == ANY_ERRNO ? got != 0 : got == want;
}

static void block_table(mfile *mf, const char *path, int vsec)
{
    uint32_t buf[16 + 2];
    for (size_t i = 0; i < sizeof(block_cases) / sizeof(block_cases[0]); i++) {
        const struct block_case *c = &block_cases[i];
        for (int o = RD4B; o <= WRBUF; o++) {
            for (int k = 0; k < 18; k++) {
                buf[k] = CANARY;
            }
            void *data = c->null_data ? NULL : (void *)&buf[1];
            int len = c->len > 64 ? 64 : c->len;
            errno = 0;
            int rc = run_block((enum op)o, mf, c->offset, data, len);
            int e = errno;
            int want = vsec ? c->rc_vsec : c->rc_mem;
            int ok = rc == want && (c->err == 0 ? rc == len : err_ok(e, c->err));
            CHECK(ok, "%s %s: %s (offset %#x len %d) -> %d errno %d (want %d errno %d): %s", path,
                  op_name[o], c->what, c->offset, len, rc, e, want, c->err,
                  rc < 0 || e ? mtcr_last_error() : "");
            if (o == RD4B || o == RDBUF) {
                int untouched = 1;
                for (int k = 1; k < 17 && c->err != 0; k++) {
                    untouched &= buf[k] == CANARY;
                }
                CHECK(untouched && buf[0] == CANARY && buf[17] == CANARY,
                      "%s %s: %s: buffer and canaries untouched", path, op_name[o], c->what);
            }
        }
    }
}

static void single_dwords(mfile *mf, const char *path, int vsec)
{
    uint32_t v = CANARY, hw = 0, w = 0;
    /* Unaligned offsets, as stock: a read returns the dword the offset lies in (mstmcra DEV
     * 0x20002); a write lands on that dword through the gateway, and on the mmap path stores
     * the value's 4 big-endian bytes at the offset (stock's unaligned store). */
    CHECK(mread4(mf, HW_ID_ADDR, &hw) == 4 && mread4(mf, HW_ID_ADDR + 1, &v) == 4 && v == hw,
          "%s mread4 unaligned offset: the aligned dword %#x", path, v);
    CHECK(mwrite4(mf, 0x100000, 0x11223344) == 4 && mwrite4(mf, 0x100004, 0x55667788) == 4 &&
              mwrite4(mf, 0x100002, 0xaabbccdd) == 4 && mread4(mf, 0x100000, &v) == 4 &&
              mread4(mf, 0x100004, &w) == 4 &&
              (vsec ? (v == 0xaabbccdd && w == 0x55667788) : (v == 0x1122aabb && w == 0xccdd7788)),
          "%s mwrite4 unaligned offset: %#x %#x", path, v, w);
    struct {
        const char *what;
        unsigned int offset;
    } cases[] = {
        {"offset past the end", vsec ? 0x40000000u : 0x4000000u},
        {"offset 0xfffffffc", 0xfffffffcu},
    };
    int fail_rc = vsec ? -1 : 0; /* the mmap path returns 0 on failure (stock) */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        errno = 0;
        int rc = mread4(mf, cases[i].offset, &v);
        int e = errno;
        CHECK(rc == fail_rc && e == EINVAL, "%s mread4 %s -> %d errno %d: %s", path, cases[i].what, rc, e,
              mtcr_last_error());
        errno = 0;
        rc = mwrite4(mf, cases[i].offset, 0);
        e = errno;
        CHECK(rc == fail_rc && e == EINVAL, "%s mwrite4 %s -> %d errno %d", path, cases[i].what, rc, e);
    }
    errno = 0;
    CHECK(mread4(mf, HW_ID_ADDR, NULL) == -1 && errno == EINVAL, "%s mread4 NULL value: -1 EINVAL",
          path);
    CHECK(mread4(mf, HW_ID_ADDR, &v) == 4 && (v & 0xffff) == 0x20d, "%s still works after all that",
          path);
}

static void other_functions(mfile *mf)
{
    uint32_t v = CANARY;
    uint8_t b4[4];
    int ints[] = {-1, INT_MIN, 0x10000, INT_MAX, 0x10b};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        errno = 0;
        CHECK(mset_addr_space(mf, ints[i]) == -1 && errno == EINVAL, "mset_addr_space(%d): -1 EINVAL",
              ints[i]);
        CHECK(space_to_cap_offset(ints[i]) == 0, "space_to_cap_offset(%d) == 0", ints[i]);
    }
    CHECK(mget_addr_space(mf) == AS_CR_SPACE, "address space unchanged by refused sets");
    /* Config space: past the end, unaligned, huge. */
    unsigned int cfg_offs[] = {0x1000, 0xffc + 4, 0xfffffffc, 0x41};
    for (size_t i = 0; i < sizeof(cfg_offs) / sizeof(cfg_offs[0]); i++) {
        errno = 0;
        int rc = read_dword_from_conf_space(mf, cfg_offs[i], &v);
        int e = errno;
        CHECK(rc != 0 && e != 0, "read_dword_from_conf_space(%#x) refused: %d errno %d", cfg_offs[i],
              rc, e);
    }
    errno = 0;
    CHECK(read_dword_from_conf_space(mf, 0, NULL) == -1 && errno == EINVAL,
          "read_dword_from_conf_space NULL data: -1 EINVAL");
    errno = 0;
    CHECK(read_dword_from_conf_space(mf, 0, &v) == -1 && errno == ENOTTY,
          "read_dword_from_conf_space(0) without a driver: -1 ENOTTY, as upstream");
    /* VPD: past the end, huge offsets, NULL. */
    unsigned int vpd_offs[] = {0x8000, 0xfffffffc, 0x7fff};
    for (size_t i = 0; i < sizeof(vpd_offs) / sizeof(vpd_offs[0]); i++) {
        errno = 0;
        int rc = mvpd_read4(mf, vpd_offs[i], b4);
        CHECK(rc != 0, "mvpd_read4(%#x) refused (%d, errno %d)", vpd_offs[i], rc, errno);
    }
    errno = 0;
    CHECK(mvpd_read4(mf, 0, NULL) == -1 && errno == EINVAL, "mvpd_read4 NULL: -1 EINVAL");
    CHECK(mvpd_write4(mf, 0, NULL) != 0, "mvpd_write4 NULL refused");
    CHECK(mvpd_read4(mf, 0, b4) == 0, "mvpd_read4(0) still works");
    /* Semaphore space wrappers with odd offsets. */
    CHECK(MREAD4_SEMAPHORE(mf, -4, &v) != ME_OK, "MREAD4_SEMAPHORE(-4) refused");
    CHECK(MREAD4_SEMAPHORE(mf, 0, NULL) != ME_OK, "MREAD4_SEMAPHORE NULL refused");
    CHECK(MWRITE4_SEMAPHORE(mf, INT_MIN, 0) != ME_OK, "MWRITE4_SEMAPHORE(INT_MIN) refused");
    /* Small and odd buffers. */
    char small[8];
    memset(small, 'x', sizeof(small));
    errno = 0;
    int rc = mdevices(small, 0, MDEVS_ALL);
    CHECK(rc == -1, "mdevices with length 0: -1 (%d)", rc);
    rc = mdevices(small, -5, MDEVS_ALL);
    CHECK(rc == -1, "mdevices with negative length: -1 (%d)", rc);
    rc = mdevices(small, 4, MDEVS_ALL);
    CHECK(rc == -1 && small[4] == 'x', "mdevices with a too small buffer: -1, nothing past it (%d)", rc);
    CHECK(mdevices(NULL, 100, MDEVS_ALL) == -1, "mdevices NULL buffer: -1");
    int n = -7;
    dev_info *di = mdevices_info(0, &n);
    CHECK(n == 0, "mdevices_info with mask 0: no device (%d)", n);
    mdevices_info_destroy(di, n);
    mdevices_info_destroy(NULL, -1);
    mdevices_info_destroy(NULL, INT_MAX);
    CHECK(mget_mdevs_flags(mf, NULL) != 0, "mget_mdevs_flags NULL: refused");
    CHECK(mget_mdevs_type(mf, NULL) != 0, "mget_mdevs_type NULL: refused");
    CHECK(read_device_id(mf, NULL) == -1, "read_device_id NULL: -1");
    get_pci_dev_rdma(mf, NULL);
    CHECK(get_dma_pages(mf, NULL, -1) != 0, "get_dma_pages(NULL, -1) refused");
    CHECK(get_dma_pages(mf, NULL, INT_MAX) != 0, "get_dma_pages(NULL, INT_MAX) refused");
    errno = 0;
    rc = release_dma_pages(mf, -1);
    CHECK(rc == -1 || rc == 0, "release_dma_pages(-1): 0 or -1, no crash (%d)", rc);
    CHECK(m_err2str((MError)-1) != NULL && m_err2str((MError)0x7fffffff) != NULL,
          "m_err2str of unknown codes gives a string");
    CHECK(return_by_reg_status(-1) != ME_OK && return_by_reg_status(INT_MAX) != ME_OK,
          "return_by_reg_status of unknown statuses: an error code");
    set_increase_poll_time(-1);
    set_increase_poll_time(INT_MAX);
    set_increase_poll_time(0);
    CHECK(mset_i2c_secondary(mf, 0xff) == 0 && mget_i2c_secondary(mf) == 0xff, "i2c secondary stored");
    mset_i2c_secondary(mf, 0);
}


/* Tools HCR calls with sizes and offsets that do not fit the 288-byte mailbox: refused before
 * the device is touched, the buffer (and its canaries) untouched. */
static void cmdif_args(mfile *mf)
{
    uint32_t buf[4 + 2] = {CANARY, 0x11111111, 0x22222222, 0x33333333, 0x44444444, CANARY};
    static const struct {
        int offs, w, r;
    } bad[] = {{0, -1, 8},      {0, 8, -1},      {0, INT_MIN, 8}, {0, 8, INT_MAX}, {INT_MAX, 8, 8},
               {INT_MIN, 8, 8}, {-8, 0, 0},      {4, 8, 8},       {288, 0, 8},     {0, 296, 0},
               {280, 16, 0},    {0, INT_MAX, 0}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        int rc = tools_cmdif_send_mbox_command_int(mf, 0, 0x31, 0, bad[i].offs, &buf[1], bad[i].w, bad[i].r,
                                                   0, (int)(i & 1));
        int e = errno;
        CHECK(rc == ME_BAD_PARAMS && e == EINVAL,
              "tools_cmdif_send_mbox_command_int(offset %d, write %d, read %d): ME_BAD_PARAMS EINVAL (%#x, %d)",
              bad[i].offs, bad[i].w, bad[i].r, rc, e);
    }
    CHECK(tools_cmdif_send_mbox_command(mf, 0, 0x31, 0, 0, &buf[1], -16, 0) == ME_BAD_PARAMS,
          "tools_cmdif_send_mbox_command(size -16): ME_BAD_PARAMS");
    CHECK(tools_cmdif_send_mbox_command(mf, 0, 0x31, 0, 0, NULL, 16, 0) == ME_BAD_PARAMS,
          "tools_cmdif_send_mbox_command(NULL data): ME_BAD_PARAMS");
    CHECK(tools_cmdif_reg_access(mf, &buf[1], INT_MIN, 16) == ME_BAD_PARAMS &&
              tools_cmdif_reg_access(mf, &buf[1], 16, INT_MAX) == ME_BAD_PARAMS &&
              tools_cmdif_reg_access(mf, NULL, 16, 16) == ME_BAD_PARAMS,
          "tools_cmdif_reg_access with bad sizes / NULL data: ME_BAD_PARAMS");
    CHECK(tools_cmdif_send_inline_cmd_int(mf, NULL, &buf[1], 0, 0x31, 0) == ME_BAD_PARAMS,
          "tools_cmdif_send_inline_cmd_int(NULL in_param): ME_BAD_PARAMS");
    CHECK(buf[0] == CANARY && buf[5] == CANARY && buf[1] == 0x11111111 && buf[4] == 0x44444444,
          "buffer and canaries untouched");
    CHECK(maccess_reg_cmdif(mf, RA_MFPA, NULL, 0) == ME_NOT_IMPLEMENTED, "maccess_reg_cmdif: ME_NOT_IMPLEMENTED");
}

static void names(void)
{
    char longname[8192];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    char longbdf[600];
    memset(longbdf, '0', sizeof(longbdf) - 1);
    longbdf[sizeof(longbdf) - 1] = 0;
    memcpy(longbdf + sizeof(longbdf) - 9, ":00:00.0", 8);
    const char *extra[] = {longname, longbdf};
    size_t nbad = sizeof(names_bad) / sizeof(names_bad[0]);
    for (size_t i = 0; i < nbad + 2; i++) {
        const char *nm = i < nbad ? names_bad[i] : extra[i - nbad];
        errno = 0;
        mfile *m = mopen(nm);
        int e = errno;
        CHECK(m == NULL && (e == EINVAL || e == ENODEV || e == ENOENT), "mopen(bad name #%zu, %zu bytes): NULL, errno %d",
              i, strlen(nm), e);
        mclose(m);
        errno = 0;
        m = mopen_adv(nm, MST_DEFAULT);
        CHECK(m == NULL && errno != 0, "mopen_adv(bad name #%zu): NULL", i);
        errno = 0;
        m = mopend(nm, MST_TAVOR);
        CHECK(m == NULL && errno != 0, "mopend(bad name #%zu): NULL", i);
        CHECK(mclear_pci_semaphore(nm) != ME_OK, "mclear_pci_semaphore(bad name #%zu) refused", i);
    }
    /* Absent functions: ENOENT (as stock); an RDMA name without its sysfs link: EINVAL. */
    const char *absent[] = {"0000:06:00.0", "ffff:ff:1f.7", "pciconf-0000:07:00.0"};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        errno = 0;
        mfile *m = mopen(absent[i]);
        CHECK(m == NULL && errno == ENOENT, "mopen(%s): NULL, ENOENT (%d)", absent[i], errno);
    }
    errno = 0;
    CHECK(mopen("mlx5_7") == NULL && errno == EINVAL, "mopen(mlx5_7): NULL, EINVAL (%d)", errno);
    /* A function of another vendor (Intel) is refused, whatever name form reaches it. */
    const char *other[] = {"0000:00:1f.0", "00:1f.0", "pciconf-00:1f.0",
                           "/sys/bus/pci/devices/0000:00:1f.0/config",
                           "/sys/bus/pci/devices/0000:00:1f.0/resource0"};
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        errno = 0;
        mfile *m = mopen(other[i]);
        int e = errno;
        CHECK(m == NULL && e == ENOTSUP, "mopen(%s) of a non-Mellanox function: NULL, ENOTSUP (%d: %s)",
              other[i], e, mtcr_last_error());
        mclose(m);
    }
    /* Files that are not PCI devices. */
    const char *files[] = {"/etc/passwd", "/dev/null", "/dev/null/config", "/proc/self/status",
                           "/sys/bus/pci/devices/0000:05:00.0/vendor",
                           "/sys/bus/pci/devices/0000:05:00.0/vpd", "/tmp/config", "/tmp/resource0",
                           "/proc/bus/pci/05/00.9", "/sys/bus/pci/devices/0000:05:00.0"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        errno = 0;
        mfile *m = mopen(files[i]);
        int e = errno;
        CHECK(m == NULL && (e == EINVAL || e == ENODEV || e == ENOENT), "mopen(%s): NULL, EINVAL/ENODEV/ENOENT (%d: %s)",
              files[i], e, mtcr_last_error());
        mclose(m);
    }
}

/* mclose always succeeds, in bounded time, on a handle whose device vanished. */
static void vanished(void)
{
    const char *sim = getenv("MTCR_SIM_BIN");
    if (!CHECK(sim != NULL, "MTCR_SIM_BIN set by ctest/run.sh")) {
        return;
    }
    char cmd[600];
    mfile *m = mopen("0000:05:00.0");
    if (!CHECK(m != NULL, "mopen before the device vanishes")) {
        return;
    }
    snprintf(cmd, sizeof(cmd), "%s fault --bdf 0000:05:00.0 --set vanish_after=1 >/dev/null", sim);
    CHECK(system(cmd) == 0, "fault vanish_after=1");
    uint32_t v = 0;
    errno = 0;
    CHECK(mread4(m, HW_ID_ADDR, &v) == -1 && errno == ENODEV, "mread4 on the vanished device: -1 ENODEV");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(mclose(m) == 0, "mclose on the vanished device: 0");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(t1.tv_sec - t0.tv_sec < 2, "mclose on the vanished device is quick");
    snprintf(cmd, sizeof(cmd), "%s fault --bdf 0000:05:00.0 --clear >/dev/null", sim);
    CHECK(system(cmd) == 0, "fault --clear");
}

/* ICMD sizes beyond the mailbox: ME_ICMD_SIZE_EXCEEDS_LIMIT before the buffer is read, as
 * upstream. The 16-byte buffer ends at an inaccessible page, so reading what an oversized
 * count claims would crash. */
static void icmd_sizes(mfile *mf)
{
    long pg = sysconf(_SC_PAGESIZE);
    u_int8_t *map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!CHECK(map != MAP_FAILED && mprotect(map + pg, pg, PROT_NONE) == 0, "guard page")) {
        return;
    }
    u_int8_t *buf = map + pg - 16;
    memset(buf, 0xab, 16);
    static const struct {
        int w, r;
    } big[] = {{0x100000, 0x100000}, {16, 0x10000}, {0x10000, 16}, {0x344, 16}, {INT_MAX, INT_MAX}};
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        errno = 0;
        int rc = icmd_send_command_int(mf, 0x9001, buf, big[i].w, big[i].r, 0);
        int e = errno;
        CHECK(rc == ME_ICMD_SIZE_EXCEEDS_LIMIT && e == EINVAL,
              "icmd_send_command_int(write %#x, read %#x): ME_ICMD_SIZE_EXCEEDS_LIMIT EINVAL (%#x, %d)", big[i].w,
              big[i].r, rc, e);
    }
    errno = 0;
    int rc = icmd_send_command(mf, 0x9001, buf, 0x100000, 0);
    CHECK(rc == ME_ICMD_SIZE_EXCEEDS_LIMIT && errno == EINVAL,
          "icmd_send_command(1 MiB on a 16-byte buffer): ME_ICMD_SIZE_EXCEEDS_LIMIT (%#x)", rc);
    CHECK(mf->icmd.icmd_opened == 1 && mf->icmd.max_cmd_size == 0x340, "interface opened, mailbox %#x bytes",
          mf->icmd.max_cmd_size);
    int same = 1;
    for (int i = 0; i < 16; i++) {
        same &= buf[i] == 0xab;
    }
    CHECK(same, "buffer untouched");
    munmap(map, 2 * pg);
}

int main(void)
{
    mfile *mf = mopen("0000:05:00.0");
    mfile *mm = mopen("/sys/bus/pci/devices/0000:05:00.0/resource0");
    if (!CHECK(mf != NULL && mm != NULL, "mopen on the VSEC and memory paths")) {
        return tap_done();
    }
    block_table(mf, "vsec", 1);
    block_table(mm, "memory", 0);
    single_dwords(mf, "vsec", 1);
    single_dwords(mm, "memory", 0);
    other_functions(mf);
    cmdif_args(mf);
    cmdif_args(mm);
    icmd_sizes(mf);
    names();
    CHECK(mclose(mf) == 0 && mclose(mm) == 0, "mclose");
    CHECK(mclose(NULL) == 0, "mclose(NULL) == 0");
    vanished();
    return tap_done();
}
