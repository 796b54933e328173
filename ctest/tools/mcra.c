/* A small `mstmcra` work-alike built on this library (through pkg-config), used by
 * ctest/diff_stock.sh to compare its output with Debian's stock mstmcra on the same simulated
 * device:   mcra DEV ADDR                 read a dword          -> 0x%08x
 *           mcra DEV ADDR,LEN             read LEN bytes        -> "0x%08x 0x%08x" per dword
 *           mcra DEV ADDR VALUE           write a dword
 *           mcra DEV ADDR.BIT:SIZE [VAL]  read / read-modify-write a field */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtcr_ul/mtcr.h>

static int die(const char *what)
{
    fprintf(stderr, "-E- %s: %s (%s)\n", what, strerror(errno), mtcr_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s DEV ADDR[,LEN|.BIT:SIZE] [VALUE]\n", argv[0]);
        return 2;
    }
    mfile *mf = mopen_adv(argv[1], MST_DEFAULT | MST_CABLE | MST_LINKX_CHIP);
    if (!mf) {
        return die("mopen_adv");
    }
    char *end = NULL;
    unsigned long addr = strtoul(argv[2], &end, 0);
    int rc = 0;
    if (*end == ',') {
        int len = (int)strtol(end + 1, NULL, 0);
        u_int32_t *buf = calloc((size_t)len / 4 + 1, 4);
        if (mread4_block(mf, (unsigned)addr, buf, len) != len) {
            rc = die("mread4_block");
        } else {
            for (int i = 0; i < len / 4; i++) {
                printf("0x%08lx 0x%08x\n", addr + 4ul * (unsigned long)i, buf[i]);
            }
        }
        free(buf);
    } else if (*end == '.') {
        unsigned bit = (unsigned)strtoul(end + 1, &end, 0);
        unsigned size = *end == ':' ? (unsigned)strtoul(end + 1, NULL, 0) : 1;
        u_int32_t mask = size >= 32 ? 0xffffffffu : ((1u << size) - 1u), v = 0;
        if (mread4(mf, (unsigned)addr, &v) != 4) {
            rc = die("mread4");
        } else if (argc > 3) {
            u_int32_t f = (u_int32_t)strtoul(argv[3], NULL, 0) & mask;
            v = (v & ~(mask << bit)) | (f << bit);
            if (mwrite4(mf, (unsigned)addr, v) != 4) {
                rc = die("mwrite4");
            }
        } else {
            printf("0x%08x\n", (v >> bit) & mask);
        }
    } else if (argc > 3) {
        if (mwrite4(mf, (unsigned)addr, (u_int32_t)strtoul(argv[3], NULL, 0)) != 4) {
            rc = die("mwrite4");
        }
    } else {
        u_int32_t v = 0;
        if (mread4(mf, (unsigned)addr, &v) != 4) {
            rc = die("mread4");
        } else {
            printf("0x%08x\n", v);
        }
    }
    mclose(mf);
    return rc;
}
