/* ctest-config: default
 * crspace access on the default simulated ConnectX-5 (0000:05:00.0, VSEC gateway): hw id,
 * round trips, blocks, argument errors (errno), address spaces, semaphore helpers, VPD,
 * config-space reads, the memory-mapped path and the functions without effect here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtcr.h"
#include "tap.h"

/* Declared in upstream's mtcr_ul_com.h (an internal header mstflint's tools include). */
int mget_i2c_addr_width(mfile *mf, u_int8_t *addr_width);

#define DEV "0000:05:00.0"
#define SCRATCH 0x40000u /* crspace scratch area used for write tests */

static void fill(u_int32_t *p, int n, u_int32_t seed)
{
    for (int i = 0; i < n; i++) {
        p[i] = seed * 0x9e3779b1u + (u_int32_t)i * 0x01010101u;
    }
}

static void blocks(mfile *mf)
{
    static const int sizes[] = {1, 3, 64, 4096};
    for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        int n = sizes[k];
        u_int32_t *w = calloc((size_t)n, 4), *r = calloc((size_t)n, 4);
        fill(w, n, (u_int32_t)(k + 1));
        int wr = mwrite4_block(mf, SCRATCH, w, n * 4);
        int rd = mread4_block(mf, SCRATCH, r, n * 4);
        CHECK(wr == n * 4 && rd == n * 4, "block of %d dwords: write %d, read %d", n, wr, rd);
        CHECK(memcmp(w, r, (size_t)n * 4) == 0, "block of %d dwords reads back", n);
        if (n >= 3) {
            u_int32_t v = 0;
            mread4(mf, SCRATCH + 8, &v);
            CHECK(v == w[2], "mread4 sees dword 2 of the block (%#x)", v);
        }
        free(w);
        free(r);
    }
}

/* More dwords than the library moves per internal chunk (16 Ki dwords). */
static void big_block(mfile *mf, const char *what)
{
    enum { BIG = 20000 };
    u_int32_t *w = calloc(BIG, 4), *r = calloc(BIG, 4);
    u_int8_t *b = calloc(BIG, 4);
    fill(w, BIG, 77);
    CHECK(mwrite4_block(mf, 0x100000, w, BIG * 4) == BIG * 4, "%s: write %d dwords", what, BIG);
    CHECK(mread4_block(mf, 0x100000, r, BIG * 4) == BIG * 4 && memcmp(w, r, BIG * 4) == 0,
          "%s: read %d dwords back", what, BIG);
    CHECK(mread_buffer(mf, 0x100000, b, BIG * 4) == BIG * 4 && b[4 * 17000] == (u_int8_t)(w[17000] >> 24) &&
              b[4 * 19999 + 3] == (u_int8_t)w[19999], "%s: mread_buffer across chunks", what);
    CHECK(mwrite_buffer(mf, 0x200000, b, BIG * 4) == BIG * 4 && mread4_block(mf, 0x200000, r, BIG * 4) == BIG * 4 &&
              memcmp(w, r, BIG * 4) == 0, "%s: mwrite_buffer across chunks", what);
    free(w);
    free(r);
    free(b);
}

static void buffers(mfile *mf)
{
    u_int32_t dw[4] = {0x11223344, 0xa1b2c3d4, 0, 0xffffffff};
    u_int8_t bytes[16], copy[16];
    CHECK(mwrite4_block(mf, SCRATCH, dw, 16) == 16, "write 4 dwords");
    CHECK(mread_buffer(mf, SCRATCH, bytes, 16) == 16, "mread_buffer 16 bytes");
    CHECK(bytes[0] == 0x11 && bytes[1] == 0x22 && bytes[3] == 0x44 && bytes[4] == 0xa1,
          "mread_buffer gives big-endian bytes (%02x %02x %02x %02x)", bytes[0], bytes[1], bytes[2], bytes[3]);
    for (int i = 0; i < 16; i++) {
        bytes[i] = (u_int8_t)(0x10 + i);
    }
    memcpy(copy, bytes, 16);
    CHECK(mwrite_buffer(mf, SCRATCH, bytes, 16) == 16, "mwrite_buffer 16 bytes");
    CHECK(memcmp(copy, bytes, 16) == 0, "mwrite_buffer leaves the caller's buffer unchanged");
    u_int32_t v = 0;
    mread4(mf, SCRATCH, &v);
    CHECK(v == 0x10111213, "mwrite_buffer wrote big-endian bytes (%#x)", v);
    /* unaligned data pointer */
    u_int8_t raw[20];
    CHECK(mread4_block(mf, SCRATCH, (u_int32_t *)(void *)(raw + 1), 16) == 16, "unaligned destination pointer");
}

static void arg_errors(mfile *mf)
{
    u_int32_t d[4] = {0};
    errno = 0;
    CHECK(mread4_block(mf, 0, d, 6) == -1 && errno == EINVAL, "unaligned length: -1, EINVAL (VSEC)");
    CHECK(strlen(mtcr_last_error()) > 0, "mtcr_last_error explains: %s", mtcr_last_error());
    errno = 0;
    CHECK(mwrite4_block(mf, 0, d, 2) == -1 && errno == EINVAL, "mwrite4_block unaligned length: -1, EINVAL");
    errno = 0;
    CHECK(mread4_block(mf, 0, d, -4) == -1 && errno == EINVAL, "negative length: -1, EINVAL");
    CHECK(mread4_block(mf, 0, d, 0) == 0, "zero length: 0");
    errno = 0;
    CHECK(mread4_block(mf, 0, NULL, 16) == -1 && errno == EINVAL, "NULL data: -1, EINVAL");
    errno = 0;
    CHECK(mread4_block(mf, 0xfffffffcu, d, 16) == -1 && errno == EINVAL, "offset+len overflow: -1, EINVAL");
    errno = 0;
    CHECK(mread_buffer(mf, 0, (u_int8_t *)d, 5) == -1 && errno == EINVAL, "mread_buffer unaligned: -1");
    errno = 0;
    CHECK(mread4(mf, 0xf0014, NULL) == -1 && errno == EINVAL, "mread4 NULL value: -1, EINVAL");
    u_int32_t v;
    errno = 0;
    CHECK(mread4(mf, 0x40000000u, &v) == -1 && errno != 0, "mread4 beyond 2^30: -1, errno %d", errno);
    errno = 0;
    CHECK(mread4(NULL, 0xf0014, &v) == -1 && errno == EINVAL, "mread4(NULL mf): -1, EINVAL");
    errno = 0;
    CHECK(mwrite4(NULL, 0, 0) == -1 && errno == EINVAL, "mwrite4(NULL mf): -1, EINVAL");
    CHECK(mread4_block(NULL, 0, d, 4) == -1, "mread4_block(NULL mf): -1");
    CHECK(mget_addr_space(NULL) == -1, "mget_addr_space(NULL): -1");
    CHECK(mset_addr_space(NULL, 2) == -1, "mset_addr_space(NULL): -1");
    errno = 0;
    CHECK(mget_mdevs_flags(NULL, &v) == 1 && errno == EINVAL, "mget_mdevs_flags(NULL): 1, EINVAL");
    CHECK(mget_mdevs_type(mf, NULL) == 1, "mget_mdevs_type(mf, NULL): 1");
    CHECK(mvpd_read4(NULL, 0, (u_int8_t *)&v) == -1, "mvpd_read4(NULL): -1");
    CHECK(read_dword_from_conf_space(NULL, 0, &v) == -1, "read_dword_from_conf_space(NULL): -1");
    CHECK(mclose(NULL) == 0, "mclose(NULL): 0");
    CHECK(mset_i2c_secondary(NULL, 1) == 0xff, "mset_i2c_secondary(NULL): 0xff");
    CHECK(is_gw_access(NULL) == 0, "is_gw_access(NULL): 0");
    swap_pci_address_space(NULL);
    mpci_change(NULL);
    CHECK(1, "NULL to void functions does not crash");
    /* an mfile this library did not open (tools allocate fw-context mfiles themselves) */
    mfile *fake = calloc(1, sizeof(mfile));
    errno = 0;
    CHECK(mread4(fake, 0xf0014, &v) == -1 && errno == EINVAL, "mread4 on a foreign mfile: -1, EINVAL");
    CHECK(mclose(fake) == 0, "mclose on a foreign mfile: 0 (left to its owner)");
    free(fake);
}

static void spaces(mfile *mf)
{
    CHECK(mget_addr_space(mf) == AS_CR_SPACE, "address space after open is CR_SPACE (%d)", mget_addr_space(mf));
    CHECK(mf->vsec_cap_mask & (1u << VCC_CRSPACE_SPACE_SUPPORTED), "cap mask has CR_SPACE (%#x)", mf->vsec_cap_mask);
    CHECK(mset_addr_space(mf, AS_ICMD) == 0 && mget_addr_space(mf) == AS_ICMD && mf->address_space == AS_ICMD,
          "mset_addr_space(AS_ICMD) = 0");
    CHECK(mset_addr_space(mf, AS_CR_SPACE) == 0, "back to CR_SPACE");
    u_int32_t v = 0;
    CHECK(mread4(mf, 0xf0014, &v) == 4 && (v & 0xffff) == 0x20d, "hw id again in CR_SPACE");
    errno = 0;
    CHECK(mset_addr_space(mf, AS_MAC) == -1, "mset_addr_space(AS_MAC) unsupported: -1 (errno %d)", errno);
    CHECK(mset_addr_space(mf, -1) == -1, "mset_addr_space(-1): -1");
    CHECK(mset_addr_space(mf, AS_END) == -1, "mset_addr_space(AS_END): -1");
    CHECK(mget_addr_space(mf) == AS_CR_SPACE, "failed set leaves the space unchanged");
    CHECK(space_to_cap_offset(AS_SEMAPHORE) == 8 && space_to_cap_offset(AS_RECOVERY) == 0 &&
          space_to_cap_offset(AS_PCI_CRSPACE) == 0xc, "space_to_cap_offset");
    /* swap_pci_address_space only toggles the field */
    mf->address_space = AS_ICMD_EXT;
    swap_pci_address_space(mf);
    CHECK(mf->address_space == AS_PCI_ICMD, "swap ICMD_EXT -> PCI_ICMD");
    swap_pci_address_space(mf);
    CHECK(mf->address_space == AS_ICMD_EXT, "swap back");
    mf->address_space = AS_ND_CRSPACE;
    swap_pci_address_space(mf);
    CHECK(mf->address_space == AS_PCI_CRSPACE, "swap ND_CRSPACE -> PCI_CRSPACE");
    mf->address_space = AS_CR_SPACE;
    /* semaphore helpers */
    u_int32_t s = 0xdead;
    CHECK(MREAD4_SEMAPHORE(mf, 0, &s) == ME_OK, "MREAD4_SEMAPHORE: ME_OK (value %#x)", s);
    CHECK(MWRITE4_SEMAPHORE(mf, 0, 0) == ME_OK, "MWRITE4_SEMAPHORE: ME_OK");
    CHECK(mf->address_space == AS_CR_SPACE, "semaphore helpers leave CR_SPACE");
    CHECK(is_gw_access(mf) == 1, "is_gw_access: 1 on the VSEC");
}

static void misc(mfile *mf)
{
    u_int32_t v = 0;
    CHECK(mget_mdevs_flags(mf, &v) == 0 && v == MDEVS_TAVOR_CR, "mget_mdevs_flags: MDEVS_TAVOR_CR");
    CHECK(mget_mdevs_type(mf, &v) == 0 && v == MST_PCICONF, "mget_mdevs_type: MST_PCICONF");
    CHECK(mf->functional_vsec_supp == 1, "functional_vsec_supp");
    CHECK(mf->dtype == MST_GAMLA && mf->fd == -1 && mf->sock == -1, "dtype MST_GAMLA (0, as upstream), fd, sock");
    u_int8_t width = 0;
    int wrc = mget_i2c_addr_width(mf, &width);
    CHECK(wrc == 0 && width == 2, "mget_i2c_addr_width: 0, width 2 (got %d, %u)", wrc, width);
    CHECK(mf->dinfo != NULL && mf->dinfo->pci.dev_id == 0x1017 && mf->dinfo->pci.vend_id == 0x15b3, "dinfo ids");
    CHECK(mf->dinfo && strcmp(mf->dinfo->dev_name, DEV) == 0, "dinfo->dev_name is the name opened");
    CHECK(mf->pci_device_id == 0x1017, "pci_device_id");
    CHECK(mf->hw_dev_id == 0x20d && mf->rev_id == 0, "hw_dev_id filled at open (%#x)", mf->hw_dev_id);
    CHECK(read_device_id(mf, &v) == 4 && v == 0x20d && mf->hw_dev_id == 0x20d, "read_device_id: 4, 0x20d");
    errno = 0;
    CHECK(read_dword_from_conf_space(mf, 0, &v) == -1 && errno == ENOTTY,
          "read_dword_from_conf_space without a driver: -1 ENOTTY, as upstream (errno %d)", errno);
    u_int8_t vpd[4] = {0};
    CHECK(mvpd_read4(mf, 0, vpd) == 0 && vpd[0] == 0x82, "VPD starts with the identifier tag (%#x)", vpd[0]);
    u_int8_t vpd1[4] = {0};
    CHECK(mvpd_read4(mf, 1, vpd1) == 0 && vpd1[0] == vpd[1] && vpd1[2] == vpd[3], "unaligned VPD read");
    CHECK(mvpd_write4(mf, 0, vpd) == ME_UNSUPPORTED_OPERATION, "mvpd_write4: ME_UNSUPPORTED_OPERATION");
    errno = 0;
    CHECK(mhca_reset(mf) == -1 && errno == ENOTSUP, "mhca_reset: -1, ENOTSUP");
    errno = 0;
    CHECK(msw_reset(mf) == -1 && errno == EPERM, "msw_reset: -1, EPERM");
    struct mtcr_page_info pi;
    memset(&pi, 0, sizeof(pi));
    CHECK(get_dma_pages(mf, &pi, 1) == -1 && release_dma_pages(mf, 1) == -1, "DMA pages: -1 without a driver");
    CHECK(is_remote_dev(mf) == 0, "is_remote_dev: 0");
    CHECK(is_gpu_device(0x2900) && !is_gpu_device(0x20d), "is_gpu_device");
    CHECK(mset_i2c_secondary(mf, 0x48) == 0 && mset_i2c_secondary(mf, 0) == 0x48, "mset_i2c_secondary swaps");
    CHECK(is_pcie_switch_device(mf) == 0, "not a PCIe switch");
    CHECK(is_zombiefish_device(mf) == 0, "not zombiefish (ConnectX-5)");
    CHECK(strcmp(m_err2str(ME_OK), "Success") == 0 && strcmp(m_err2str(-5), "Unknown error code") == 0,
          "m_err2str: v4.36's texts");
    set_increase_poll_time(1);
    set_increase_poll_time(0);
    CHECK(1, "set_increase_poll_time");
}

static void memory_path(void)
{
    mfile *mf = mopen("/sys/bus/pci/devices/" DEV "/resource0");
    if (!CHECK(mf != NULL, "open resource0 (%s)", mf ? "ok" : mtcr_last_error())) {
        return;
    }
    u_int32_t v = 0;
    CHECK(mf->tp == MST_PCI, "resource0: tp MST_PCI (%#x)", mf->tp);
    CHECK(mread4(mf, 0xf0014, &v) == 4 && (v & 0xffff) == 0x20d, "hw id through mmap (%#x)", v);
    CHECK(mwrite4(mf, SCRATCH, 0xcafe0001) == 4 && mread4(mf, SCRATCH, &v) == 4 && v == 0xcafe0001, "mmap round trip");
    errno = 0;
    CHECK(mread4(mf, 0x4000000, &v) == 0 && errno == EINVAL, "beyond the 64 MiB window: 0, EINVAL");
    u_int32_t d[2];
    CHECK(mread4_block(mf, 0, d, 6) == EINVAL, "unaligned length on the memory path: EINVAL (22)");
    big_block(mf, "memory");
    mpci_change(mf);
    CHECK(mf->tp == MST_PCICONF, "mpci_change -> config (%#x)", mf->tp);
    CHECK(mread4(mf, SCRATCH, &v) == 4 && v == 0xcafe0001, "config sees the mmap write");
    mpci_change(mf);
    CHECK(mf->tp == MST_PCI, "mpci_change -> memory again");
    CHECK(mclose(mf) == 0, "mclose");
}

int main(void)
{
    mfile *mf = mopen(DEV);
    if (!CHECK(mf != NULL, "mopen(%s): %s", DEV, mf ? "ok" : mtcr_last_error())) {
        return tap_done();
    }
    u_int32_t v = 0;
    CHECK(mread4(mf, HW_ID_ADDR, &v) == 4, "mread4(0xf0014) returns 4");
    CHECK((v & 0xffff) == 0x20d, "hw id is ConnectX-5 0x20d (%#x)", v);
    CHECK(mwrite4(mf, SCRATCH, 0x12345678) == 4, "mwrite4 returns 4");
    CHECK(mread4(mf, SCRATCH, &v) == 4 && v == 0x12345678, "write/read round trip (%#x)", v);
    CHECK(mwrite4(mf, SCRATCH, 0) == 4 && mread4(mf, SCRATCH, &v) == 4 && v == 0, "second round trip");
    blocks(mf);
    big_block(mf, "VSEC");
    buffers(mf);
    arg_errors(mf);
    spaces(mf);
    misc(mf);
    CHECK(mclose(mf) == 0, "mclose: 0");
    memory_path();
    return tap_done();
}
