/* ctest-config: drivers
 * Kernel-driver paths through the C API: mopen picks the driver, mfile/tp/flags report it
 * with the stock numbers, dwords, blocks and VPD go through the driver and agree with the
 * sysfs path of the same function, DMA pages work on drivers and fail with ENOTTY without. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtcr.h"
#include "tap.h"

#define N 1000

static u_int32_t buf[N], back[N], ref[N];

struct path {
    const char *name;
    u_int32_t tp;
    u_int32_t flags;
    int driver; /* opened through a driver node (else sysfs) */
};

static void one_path(const struct path *p, const char *sysfs_name)
{
    mfile *mf = mopen(p->name);
    if (!CHECK(mf != NULL, "%s: mopen (%s)", p->name, mf ? "ok" : mtcr_last_error())) {
        return;
    }
    u_int32_t tp = 0, flags = 0xffff, v = 0, r = 0;
    CHECK(mget_mdevs_type(mf, &tp) == 0 && tp == p->tp && mf->tp == p->tp, "%s: type %#x", p->name, tp);
    CHECK(mget_mdevs_flags(mf, &flags) == 0 && flags == p->flags, "%s: flags %#x", p->name, flags);
    mfile *sys = mopen(sysfs_name);
    if (!CHECK(sys != NULL, "%s: sysfs open", sysfs_name)) {
        mclose(mf);
        return;
    }
    CHECK(mread4(mf, HW_ID_ADDR, &v) == 4 && mread4(sys, HW_ID_ADDR, &r) == 4 && v == r,
          "%s: hw id %#x (sysfs %#x)", p->name, v, r);
    CHECK(mwrite4(mf, 0x10000, 0xc0ffee00 | tp) == 4 && mread4(sys, 0x10000, &r) == 4 &&
              r == (0xc0ffee00 | tp),
          "%s: write seen through sysfs", p->name);
    for (int i = 0; i < N; i++) {
        buf[i] = 0x01000193u * (u_int32_t)i ^ tp;
    }
    memset(back, 0, sizeof back);
    memset(ref, 0, sizeof ref);
    CHECK(mwrite4_block(mf, 0x20000, buf, sizeof buf) == (int)sizeof buf, "%s: block write", p->name);
    CHECK(mread4_block(mf, 0x20000, back, sizeof back) == (int)sizeof back &&
              memcmp(back, buf, sizeof buf) == 0,
          "%s: block read back", p->name);
    CHECK(mread4_block(sys, 0x20000, ref, sizeof ref) == (int)sizeof ref && memcmp(ref, buf, sizeof buf) == 0,
          "%s: block identical through sysfs", p->name);
    u_int8_t a[4] = {0}, b[4] = {1};
    if (!(tp & (MST_PCI | MST_DRIVER_CR))) {
        CHECK(mvpd_read4(mf, 4, a) == 0 && mvpd_read4(sys, 4, b) == 0 && memcmp(a, b, 4) == 0,
              "%s: VPD read identical", p->name);
    }
    u_int32_t cfg = 0;
    if (p->driver) {
        CHECK(read_dword_from_conf_space(mf, 0, &cfg) == 0 && (cfg & 0xffff) == 0x15b3,
              "%s: config dword 0 %#x", p->name, cfg);
    } else {
        /* As upstream: the driver's config-dword ioctl, which a sysfs open has no node for. */
        errno = 0;
        CHECK(read_dword_from_conf_space(mf, 0, &cfg) == -1 && errno == ENOTTY,
              "%s: config dword without a driver: -1 ENOTTY (errno %d)", p->name, errno);
    }
    mclose(sys);
    mclose(mf);
}

int main(void)
{
    /* The first open of the Gen-1 memory node takes ConnectX ordering slot 1 (stock: 0xf0384 +
     * 4 * slot). The driver never gives slots back: after three, opens go on without one. */
    mfile *mf = mopen("0000:0b:00.0");
    if (CHECK(mf != NULL, "Gen-1 memory node open")) {
        CHECK(mf->connectx_wa_slot == 0xf0388, "connectx_wa_slot %#x", mf->connectx_wa_slot);
        mclose(mf);
    }
    const struct path paths[] = {
        /* tp as stock sets it: MST_PCICONF on config nodes, MST_PCI on memory nodes. */
        {"0000:05:00.0", MST_PCICONF, 0, 1},
        {"0000:06:00.0", MST_PCICONF, 0, 1},
        {"/dev/mst/mt4123_pci_pciconf0", MST_PCICONF, 0, 1},
        {"/dev/mst/mt4125_pciconf0", MST_PCICONF, MDEVS_TAVOR_CR, 1},
        {"/dev/mst/mt4125_pci_cr0", MST_PCI, MDEVS_TAVOR_CR, 1},
        {"0000:09:00.0", MST_PCICONF, MDEVS_TAVOR_CR, 0},
        {"0000:0b:00.0", MST_PCI, 0, 1},
    };
    const char *sysfs[] = {
        "/sys/bus/pci/devices/0000:05:00.0/config", "/sys/bus/pci/devices/0000:06:00.0/config",
        "/sys/bus/pci/devices/0000:07:00.0/config", "/sys/bus/pci/devices/0000:08:00.0/config",
        "/sys/bus/pci/devices/0000:08:00.0/config", "/sys/bus/pci/devices/0000:09:00.0/config",
        "/sys/bus/pci/devices/0000:0b:00.0/config",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        one_path(&paths[i], sysfs[i]);
    }

    /* mopen_adv with a memory-only mask: the driver's memory node, else resource0. The open's
     * tp is MST_PCI there, so MST_DRIVER_CR alone matches nothing (stock: EPERM). */
    mfile *m = mopen_adv("0000:0b:00.0", MST_PCI);
    CHECK(m != NULL && m->tp == MST_PCI && m->fd >= 0, "mopen_adv(MST_PCI): Gen-1 memory node");
    mclose(m);
    errno = 0;
    m = mopen_adv("0000:0b:00.0", MST_DRIVER_CR);
    CHECK(m == NULL && errno == EPERM, "mopen_adv(MST_DRIVER_CR): NULL, EPERM as stock (%d)", errno);
    mclose(m);
    m = mopen_adv("0000:08:00.0", MST_PCI);
    CHECK(m != NULL && m->tp == MST_PCI, "mopen_adv(MST_PCI) on an MFT card: memory");
    mclose(m);
    m = mopen_adv("0000:05:00.0", MST_PCI | MST_DRIVER_CR);
    CHECK(m != NULL && m->tp == MST_PCI, "mopen_adv(MST_PCI) without memory node: resource0");
    mclose(m);

    /* VPD write through a driver, seen in the sysfs file. */
    mf = mopen("0000:06:00.0");
    if (CHECK(mf != NULL, "mstflint_access open")) {
        FILE *f = fopen("/sys/bus/pci/devices/0000:06:00.0/vpd", "rb");
        unsigned char img[4096];
        size_t len = f ? fread(img, 1, sizeof img, f) : 0;
        if (f) {
            fclose(f);
        }
        unsigned int off = (unsigned int)len - 8;
        u_int8_t w[4] = {0xa5, 0x5a, 0x3c, 0xc3}, r[4] = {0};
        CHECK(len > 8 && mvpd_write4(mf, off, w) == 0 && mvpd_read4(mf, off, r) == 0 && memcmp(r, w, 4) == 0,
              "VPD write/read at %#x through the driver", off);

        struct mtcr_page_info pi;
        memset(&pi, 0, sizeof pi);
        CHECK(get_dma_pages(mf, &pi, 2) == 0 && pi.page_amount == 2 && pi.page_pointer_start != 0 &&
                  pi.page_addresses_array[0].dma_address != 0 &&
                  pi.page_addresses_array[1].virtual_address == pi.page_pointer_start + 4096,
              "get_dma_pages through mstflint_access");
        CHECK(get_dma_pages(mf, &pi, 2) == -1 && errno == EBUSY, "second get_dma_pages: EBUSY");
        CHECK(release_dma_pages(mf, 2) == 0, "release_dma_pages");
        CHECK(get_dma_pages(mf, &pi, 9) == -1 && errno == EINVAL, "9 pages: EINVAL");
        mclose(mf);
    }
    /* mf->fd is the node (tools issue driver ioctls on it); -1 without a driver.
     * mclear_pci_semaphore accepts driver names (tp MST_PCICONF / MST_PCI). Hot reset: the
     * driver's PCICONF_HOT_RESET on mf->fd. */
    const char *drv[] = {"0000:05:00.0", "0000:06:00.0", "/dev/mst/mt4123_pci_pciconf0",
                         "/dev/mst/mt4125_pciconf0", "/dev/mst/mt4125_pci_cr0", "0000:0b:00.0"};
    for (size_t i = 0; i < sizeof drv / sizeof drv[0]; i++) {
        mf = mopen(drv[i]);
        if (CHECK(mf != NULL, "%s: open", drv[i])) {
            char link[64], target[256];
            snprintf(link, sizeof link, "/proc/self/fd/%d", mf->fd);
            ssize_t n = mf->fd >= 0 ? readlink(link, target, sizeof target - 1) : -1;
            target[n > 0 ? n : 0] = 0;
            CHECK(n > 0 && strncmp(target, "/dev/", 5) == 0, "%s: mf->fd %d is the node %s", drv[i], mf->fd,
                  target);
            mclose(mf);
        }
        CHECK(mclear_pci_semaphore(drv[i]) == ME_OK, "%s: mclear_pci_semaphore ME_OK", drv[i]);
    }
    mf = mopen("0000:06:00.0");
    if (CHECK(mf != NULL, "mstflint_access open for hot reset")) {
        CHECK(hot_reset(mf, 0, 0, 6, 0, 0, 0, 0, 0, 0) == 0, "hot_reset through mstflint_access: 0 (%s)",
              mtcr_last_error());
        errno = 0;
        CHECK(hot_reset(mf, 1, 0, 6, 0, 0, 0, 0x42, 0, 0) == -1 && errno == ENODEV,
              "hot_reset in parallel with an absent function: -1 ENODEV (%d)", errno);
        mclose(mf);
    }
    mf = mopen("0000:09:00.0");
    if (CHECK(mf != NULL, "sysfs open")) {
        CHECK(mf->fd == -1, "sysfs: mf->fd -1");
        errno = 0;
        CHECK(hot_reset(mf, 0, 0, 9, 0, 0, 0, 0, 0, 0) == -1 && errno == ENOTTY, "sysfs: hot_reset ENOTTY");
        struct mtcr_page_info pi;
        CHECK(get_dma_pages(mf, &pi, 1) == -1 && errno == ENOTTY, "no driver: ENOTTY");
        CHECK(release_dma_pages(mf, 1) == -1 && errno == ENOTTY, "no driver: release ENOTTY");
        mclose(mf);
    }
    return tap_done();
}
