/* ctest-config: default
 * Failures injected into the simulated device while the program runs (through
 * `mtcr-sim fault`, binary in $MTCR_SIM_BIN): errno and return conventions of the C API. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtcr.h"
#include "tap.h"

static int fault(const char *args)
{
    const char *sim = getenv("MTCR_SIM_BIN");
    char cmd[512];
    if (!sim) {
        return -1;
    }
    snprintf(cmd, sizeof(cmd), "%s fault %s >/dev/null", sim, args);
    return system(cmd);
}

int main(void)
{
    if (!CHECK(getenv("MTCR_SIM_BIN") != NULL, "MTCR_SIM_BIN set by ctest/run.sh")) {
        return tap_done();
    }
    mfile *mf = mopen("0000:05:00.0");
    if (!CHECK(mf != NULL, "mopen")) {
        return tap_done();
    }
    enum { N = 4096 };
    u_int32_t *buf = calloc(N, 4);
    u_int32_t v = 0;

    /* I/O errors part way through a block: the VSEC path returns the bytes done. */
    CHECK(fault("--set eio_after=300") == 0, "fault eio_after=300");
    errno = 0;
    int rc = mread4_block(mf, 0, buf, N * 4);
    int e = errno;
    CHECK(rc >= 0 && rc < N * 4 && rc % 4 == 0, "partial block read returns the bytes done (%d)", rc);
    CHECK(e == EIO, "errno EIO (%d: %s)", e, mtcr_last_error());
    errno = 0;
    CHECK(mread4(mf, HW_ID_ADDR, &v) == -1 && errno == EIO, "mread4 after the fault: -1, EIO");
    CHECK(fault("--clear") == 0, "fault --clear");
    CHECK(mread4(mf, HW_ID_ADDR, &v) == 4 && (v & 0xffff) == 0x20d, "reads work again");

    /* The semaphore held by someone else: EBUSY. */
    CHECK(fault("--set semaphore_held_forever=true") == 0, "fault semaphore_held_forever");
    errno = 0;
    rc = mread4(mf, HW_ID_ADDR, &v);
    e = errno;
    CHECK(rc == -1 && e == EBUSY, "mread4 with the semaphore stuck: -1, EBUSY (%d)", e);
    errno = 0;
    CHECK(mwrite4_block(mf, 0x40000, buf, 16) == -1 && errno == EBUSY, "block write with the semaphore stuck: -1, EBUSY");
    CHECK(MREAD4_SEMAPHORE(mf, 0, &v) == ME_ICMD_STATUS_CR_FAIL, "MREAD4_SEMAPHORE: ME_ICMD_STATUS_CR_FAIL");
    errno = 0;
    mfile *other = mopen("0000:05:00.0");
    e = errno;
    CHECK(other == NULL && e == EBUSY, "mopen with the semaphore stuck: NULL, EBUSY (%d)", e);
    mclose(other);
    CHECK(fault("--clear") == 0, "fault --clear");

    /* The device disappears. */
    CHECK(fault("--set vanish_after=1") == 0, "fault vanish_after=1");
    errno = 0;
    rc = mread4(mf, HW_ID_ADDR, &v);
    e = errno;
    CHECK(rc == -1 && e == ENODEV, "mread4 on a vanished device: -1, ENODEV (%d)", e);
    CHECK(fault("--clear") == 0, "fault --clear");
    CHECK(mclose(mf) == 0, "mclose");
    free(buf);
    return tap_done();
}
