/* ctest-config: default
 * MTCR_LOG / MFT_DEBUG: the library logs to stderr once asked by the environment (read on the
 * first call into the library). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtcr.h"
#include "tap.h"

int main(void)
{
    char path[] = "/tmp/mtcr-ctest-log-XXXXXX";
    int fd = mkstemp(path);
    if (!CHECK(fd >= 0, "temporary file")) {
        return tap_done();
    }
    setenv("MTCR_LOG", "debug", 1);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    mfile *mf = mopen("0000:05:00.0");
    mfile *bad = mopen("0000:42:00.0");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    CHECK(mf != NULL && bad == NULL, "one open works, one fails");
    mclose(mf);

    char text[8192] = {0};
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    close(fd);
    unlink(path);
    CHECK(n > 0, "something was logged (%zd bytes)", n);
    CHECK(strstr(text, "mtcr[debug]") != NULL, "debug lines carry the mtcr[debug] prefix");
    CHECK(strstr(text, "mopen") != NULL && strstr(text, "0000:42:00.0") != NULL, "the failing open is logged");
    return tap_done();
}
