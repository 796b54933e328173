#include "tap.h"

#include <stdarg.h>
#include <stdio.h>

static int n_run, n_failed;

int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    n_run++;
    if (!cond) {
        n_failed++;
    }
    printf("%sok %d - ", cond ? "" : "not ", n_run);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return cond;
}

void tap_diag(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

int tap_done(void)
{
    printf("1..%d\n%d passed, %d failed\n", n_run, n_run - n_failed, n_failed);
    return n_failed == 0 ? 0 : 1;
}
