/* ctest-config: default
 * Several threads on one mfile and on their own mfiles: every access stays atomic (one gateway
 * transaction at a time) and nothing crashes; errno and mtcr_last_error are per thread. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mtcr.h"
#include "tap.h"

enum { THREADS = 4, ROUNDS = 300 };

static mfile *shared;
static int bad_reads[THREADS], bad_rw[THREADS], bad_errno[THREADS];

static void *worker(void *arg)
{
    int t = (int)(long)arg;
    mfile *own = mopen("0000:05:00.0");
    u_int32_t addr = 0x50000 + 0x100 * (u_int32_t)t;
    for (int i = 0; i < ROUNDS; i++) {
        u_int32_t v = 0;
        if (mread4(shared, HW_ID_ADDR, &v) != 4 || (v & 0xffff) != 0x20d) {
            bad_reads[t]++;
        }
        u_int32_t w = ((u_int32_t)t << 24) | (u_int32_t)i, r = 0;
        mfile *m = (i & 1) ? shared : own;
        if (!m || mwrite4(m, addr, w) != 4 || mread4(m, addr, &r) != 4 || r != w) {
            bad_rw[t]++;
        }
        errno = 0;
        if (mread4_block(shared, 0, &v, 3) != -1 || errno != EINVAL ||
            strstr(mtcr_last_error(), "not a multiple of 4") == NULL) {
            bad_errno[t]++;
        }
    }
    mclose(own);
    return NULL;
}

int main(void)
{
    shared = mopen("0000:05:00.0");
    if (!CHECK(shared != NULL, "mopen")) {
        return tap_done();
    }
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++) {
        pthread_create(&th[t], NULL, worker, (void *)t);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
    }
    for (int t = 0; t < THREADS; t++) {
        CHECK(bad_reads[t] == 0, "thread %d: hw id reads on the shared mfile (%d bad)", t, bad_reads[t]);
        CHECK(bad_rw[t] == 0, "thread %d: write/read-back on shared and own mfiles (%d bad)", t, bad_rw[t]);
        CHECK(bad_errno[t] == 0, "thread %d: errno and last error are per thread (%d bad)", t, bad_errno[t]);
    }
    mclose(shared);
    return tap_done();
}
