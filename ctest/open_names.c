/* ctest-config: rich
 * Opening by every name form, and open failures with their errno. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtcr.h"
#include "tap.h"

/* Exported but, as upstream's, not declared by mtcr.h (mflash defines a static one). */
mfile *mopen_fw_ctx(void *fw_cmd_context, void *fw_cmd_func, void *dma_func, void *extra_data);

static void try_name(const char *name, u_int32_t want_tp)
{
    mfile *mf = mopen(name);
    if (!CHECK(mf != NULL, "mopen(\"%s\")%s%s", name, mf ? "" : ": ", mf ? "" : mtcr_last_error())) {
        return;
    }
    u_int32_t v = 0;
    CHECK(mread4(mf, HW_ID_ADDR, &v) == 4 && (v & 0xffff) == 0x20d, "  %s: hw id %#x", name, v);
    if (want_tp) {
        CHECK(mf->tp == want_tp, "  %s: tp %#x (want %#x)", name, mf->tp, want_tp);
    }
    CHECK(mf->flags == MDEVS_TAVOR_CR, "  %s: flags MDEVS_TAVOR_CR", name);
    CHECK(mf->dinfo && mf->dinfo->pci.bus == 5 && mf->dinfo->pci.dev == 0, "  %s: dinfo BDF", name);
    CHECK(mf->dev_name && strcmp(mf->dev_name, name) == 0, "  %s: dev_name kept", name);
    mclose(mf);
}

static void bad(const char *name, int want_errno)
{
    errno = 0;
    mfile *mf = mopen(name);
    int e = errno;
    CHECK(mf == NULL && e == want_errno, "mopen(\"%s\") fails with errno %d (got %d: %s)", name ? name : "NULL",
          want_errno, e, mtcr_last_error());
    if (mf) {
        mclose(mf);
    }
}

int main(void)
{
    try_name("05:00.0", MST_PCICONF);
    try_name("0000:05:00.0", MST_PCICONF);
    try_name("pciconf-05:00.0", MST_PCICONF);
    try_name("pciconf-0000:05:00.0", MST_PCICONF);
    try_name("/sys/bus/pci/devices/0000:05:00.0/config", MST_PCICONF);
    try_name("/sys/bus/pci/devices/0000:05:00.0/resource0", MST_PCI);
    try_name("mlx5_0", MST_PCICONF);
    try_name("/dev/mst/mt4119_pciconf0", MST_PCICONF);

    mfile *f1 = mopen("mlx5_1");
    CHECK(f1 && f1->dinfo && f1->dinfo->pci.func == 1, "mlx5_1 is function 1");
    mclose(f1);

    /* MTCR_FORCE_PATH=memory: resource0 even for a plain BDF */
    setenv("MTCR_FORCE_PATH", "memory", 1);
    try_name("0000:05:00.0", MST_PCI);
    setenv("MTCR_FORCE_PATH", "config", 1);
    try_name("0000:05:00.0", MST_PCICONF);
    unsetenv("MTCR_FORCE_PATH");

    /* not root: EACCES before anything else (stock behaviour) */
    if (seteuid(65534) == 0) {
        bad("0000:05:00.0", EACCES);
        CHECK(seteuid(0) == 0, "back to euid 0");
    }

    bad(NULL, EINVAL);
    bad("not-a-device", EINVAL);
    bad("0000:42:00.0", ENOENT);

    mfile *mf = mopend("05:00.0", MST_TAVOR);
    CHECK(mf != NULL, "mopend(MST_TAVOR)");
    mclose(mf);
    errno = 0;
    CHECK(mopend("05:00.0", MST_GAMLA) == NULL && errno == EINVAL, "mopend(MST_GAMLA): NULL, EINVAL");

    mf = mopen_adv("05:00.0", MST_DEFAULT | MST_CABLE | MST_LINKX_CHIP);
    CHECK(mf != NULL, "mopen_adv(MST_DEFAULT|MST_CABLE|MST_LINKX_CHIP) like mstmcra");
    mclose(mf);
    errno = 0;
    mf = mopen_adv("05:00.0", MST_PCI);
    CHECK(mf != NULL && mf->tp == MST_PCI, "mopen_adv(MST_PCI): a memory open (issue 4; stock: EPERM)");
    mclose(mf);
    errno = 0;
    CHECK(mopen_adv("05:00.0", MST_IB) == NULL && errno == EPERM, "mopen_adv(MST_IB) on a PCI device: NULL, EPERM");
    errno = 0;
    CHECK(mopen_fw_ctx(NULL, NULL, NULL, NULL) == NULL && errno == ENOTSUP, "mopen_fw_ctx: NULL, ENOTSUP");
    CHECK(mclear_pci_semaphore("05:00.0") == ME_OK, "mclear_pci_semaphore: ME_OK");
    CHECK(mclear_pci_semaphore("0000:42:00.0") == ME_ERROR, "mclear_pci_semaphore(absent): ME_ERROR");
    return tap_done();
}
