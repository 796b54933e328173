/* `make demo`: what a C tool sees through the library, on the simulated ConnectX-5.
 * Built through pkg-config against the installed library; run under `mtcr-sim run`. */
#include <stdio.h>
#include <stdlib.h>

#include <mtcr_ul/mtcr.h>

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "0000:05:00.0";
    int n = 0;
    dev_info *devs = mdevices_info(MDEVS_TAVOR_CR, &n);
    printf("== %d device(s) (mdevices_info)\n", n);
    for (int i = 0; i < n; i++) {
        const dev_info *d = &devs[i];
        printf("  %s  vendor %04x device %04x class %06x subsys %04x:%04x numa %s\n", d->dev_name,
               d->pci.vend_id, d->pci.dev_id, d->pci.class_id, d->pci.subsys_vend_id, d->pci.subsys_id,
               d->pci.numa_node);
        printf("    conf_dev %s\n", d->pci.conf_dev);
        for (char **p = d->pci.ib_devs; p && *p; p++) {
            printf("    rdma %s\n", *p);
        }
        for (char **p = d->pci.net_devs; p && *p; p++) {
            printf("    net  %s\n", *p);
        }
    }
    mdevices_info_destroy(devs, n);

    mfile *mf = mopen(name);
    if (!mf) {
        perror("mopen");
        fprintf(stderr, "mopen(%s): %s\n", name, mtcr_last_error());
        return 1;
    }
    printf("== opened %s: tp %#x (%s), functional VSEC %d, cap mask %#x, address space %d\n", name, mf->tp,
           mf->tp == MST_PCICONF ? "config space" : "memory mapped", mf->functional_vsec_supp, mf->vsec_cap_mask,
           mf->address_space);

    u_int32_t id = 0;
    if (read_device_id(mf, &id) != 4) {
        perror("read_device_id");
        return 1;
    }
    printf("== hw_id (0xf0014): %#x  rev %u\n", id, mf->rev_id);

    u_int32_t dump[16];
    if (mread4_block(mf, 0xf0000, dump, sizeof(dump)) != (int)sizeof(dump)) {
        perror("mread4_block");
        return 1;
    }
    printf("== crspace 0xf0000..0xf0040:\n");
    for (int i = 0; i < 16; i++) {
        printf("%s%08x", i % 4 == 0 ? (i ? "\n  " : "  ") : " ", dump[i]);
    }
    printf("\n");

    u_int32_t addr = 0x40000, before = 0, after = 0, value = 0x5eed1234;
    mread4(mf, addr, &before);
    if (mwrite4(mf, addr, value) != 4 || mread4(mf, addr, &after) != 4) {
        perror("write/read");
        return 1;
    }
    printf("== write/read-back at %#x: was %#x, wrote %#x, read %#x: %s\n", addr, before, value, after,
           after == value ? "OK" : "MISMATCH");
    mclose(mf);
    return after == value ? 0 : 1;
}
