/* ctest-config: default
 * Whole-range checks first (issue 15): a block or buffer call whose range crosses the path's
 * address limit (2^30 on the VSEC gateway, the 64 MiB map on resource0) or wraps past 4 GiB
 * fails with -1 / EINVAL before the device or the caller's buffer is touched, even when the
 * first part of the range is valid and the length is far larger than the buffer.
 *
 * The caller's buffer sits at the very end of a readable/writable page, followed by a
 * PROT_NONE page: one byte written past it would crash the program; the buffer itself is
 * filled with a canary that must survive. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mtcr.h"
#include "tap.h"

#define CANARY 0xa5

/* A `len`-byte buffer ending exactly at a guard page (len <= one page). */
static unsigned char *guarded(size_t len)
{
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return NULL;
    }
    mprotect(p + pg, pg, PROT_NONE);
    return p + pg - len;
}

static int untouched(const unsigned char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (b[i] != CANARY) {
            return 0;
        }
    }
    return 1;
}

struct req {
    unsigned off;
    int len;
    const char *what;
};

static void run(const char *name, mfile *mf, const struct req *r, size_t n)
{
    unsigned char *buf = guarded(16);
    if (!CHECK(buf != NULL, "guard page")) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        for (int op = 0; op < 4; op++) {
            static const char *ops[] = {"mread4_block", "mread_buffer", "mwrite4_block", "mwrite_buffer"};
            memset(buf, CANARY, 16);
            errno = 0;
            int rc;
            switch (op) {
            case 0: rc = mread4_block(mf, r[i].off, (u_int32_t *)buf, r[i].len); break;
            case 1: rc = mread_buffer(mf, r[i].off, buf, r[i].len); break;
            case 2: rc = mwrite4_block(mf, r[i].off, (u_int32_t *)buf, r[i].len); break;
            default: rc = mwrite_buffer(mf, r[i].off, buf, r[i].len); break;
            }
            int e = errno;
            CHECK(rc == -1 && e == EINVAL && untouched(buf, 16), "%s: %s(%#x, 16-byte buffer, %#x) [%s]: rc %d errno %d (%s)",
                  name, ops[op], r[i].off, r[i].len, r[i].what, rc, e, mtcr_last_error());
        }
    }
}

int main(void)
{
    /* VSEC gateway (config space). */
    mfile *mf = mopen("0000:05:00.0");
    if (CHECK(mf != NULL, "mopen config")) {
        static const struct req vsec[] = {
            {0x3ffffff0, 0x7ffffffc, "issue example: crosses 2^30 after 16 bytes"},
            {0x3ff00000, 0x7ffffffc, "first MiB valid, then 2^30"},
            {0x3fff0000, 0x20000, "128 KiB, the second half past 2^30"},
            {0x40000000, 4, "at 2^30"},
            {0xfffffff0, 0x20, "wraps past 4 GiB"},
        };
        u_int32_t before = 0, after = 0;
        mread4(mf, 0x3fffc, &before);
        run("vsec", mf, vsec, sizeof vsec / sizeof vsec[0]);
        mread4(mf, 0x3fffc, &after);
        CHECK(before == after, "vsec: crspace unchanged by the refused writes");
        /* The last valid dwords still work. */
        u_int32_t w[4];
        CHECK(mread4_block(mf, 0x3ffffff0, w, 16) == 16, "vsec: the last 16 bytes below 2^30 read");
        mclose(mf);
    }
    /* Memory path (resource0, a 64 MiB map). */
    mf = mopen("/sys/bus/pci/devices/0000:05:00.0/resource0");
    if (CHECK(mf != NULL, "mopen resource0")) {
        static const struct req mem[] = {
            {0x3fffff0, 0x7ffffffc, "crosses the 64 MiB map after 16 bytes"},
            {0x3ff0000, 0x20000, "128 KiB, the second half past the map"},
            {0x4000000, 4, "at the end of the map"},
            {0xfffffff0, 0x20, "wraps past 4 GiB"},
        };
        run("resource0", mf, mem, sizeof mem / sizeof mem[0]);
        u_int32_t w[4];
        CHECK(mread4_block(mf, 0x3fffff0, w, 16) == 16, "resource0: the last 16 bytes of the map read");
        mclose(mf);
    }
    return tap_done();
}
