/* ctest-config: rich
 * mdevices / mdevices_info / mdevices_info_v and their fields. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mtcr.h"
#include "tap.h"

int main(void)
{
    char buf[256];
    memset(buf, 'x', sizeof(buf));
    int n = mdevices(buf, sizeof(buf), MDEVS_ALL);
    CHECK(n == 1, "mdevices lists the function-0 device only (%d)", n);
    CHECK(strcmp(buf, "0000:05:00.0") == 0, "mdevices name \"%s\"", buf);
    CHECK(mdevices(buf, 5, MDEVS_ALL) == -1, "mdevices with a small buffer: -1");
    CHECK(mdevices(buf, sizeof(buf), MDEVS_I2CM) == 0, "mdevices without MDEVS_TAVOR_CR: 0");

    int len = -1;
    dev_info *di = mdevices_info(MDEVS_TAVOR_CR, &len);
    if (CHECK(di != NULL && len == 1, "mdevices_info: 1 device (%d)", len)) {
        CHECK(di[0].type == MDEVS_TAVOR_CR && di[0].ul_mode == 1, "type and ul_mode");
        CHECK(strcmp(di[0].dev_name, "0000:05:00.0") == 0, "dev_name");
        CHECK(di[0].pci.domain == 0 && di[0].pci.bus == 5 && di[0].pci.dev == 0 && di[0].pci.func == 0, "BDF");
        CHECK(di[0].pci.dev_id == 0x1017 && di[0].pci.vend_id == 0x15b3, "ids %#x:%#x", di[0].pci.vend_id,
              di[0].pci.dev_id);
        CHECK(di[0].pci.class_id == 0x020000, "class %#x", di[0].pci.class_id);
        CHECK(strcmp(di[0].pci.cr_dev, "0000:05:00.0") == 0, "cr_dev");
        CHECK(strcmp(di[0].pci.conf_dev, "/sys/bus/pci/devices/0000:05:00.0/config") == 0, "conf_dev");
        CHECK(di[0].pci.ib_devs && di[0].pci.ib_devs[0] && strcmp(di[0].pci.ib_devs[0], "mlx5_0") == 0 &&
                  di[0].pci.ib_devs[1] == NULL, "ib_devs = {mlx5_0}");
        CHECK(di[0].pci.net_devs && di[0].pci.net_devs[0] && strcmp(di[0].pci.net_devs[0], "enp5s0f0np0") == 0 &&
                  di[0].pci.net_devs[1] == NULL, "net_devs = {enp5s0f0np0}");
        CHECK(strcmp(di[0].pci.numa_node, "0") == 0, "numa_node \"%s\"", di[0].pci.numa_node);
        if (CHECK(di[0].pci.virtfn_count == 1 && di[0].pci.virtfn_arr != NULL, "one VF (%d)", di[0].pci.virtfn_count)) {
            const vf_info *vf = &di[0].pci.virtfn_arr[0];
            CHECK(strcmp(vf->dev_name, "0000:05:00.2") == 0 && vf->domain == 0 && vf->bus == 5 && vf->dev == 0 &&
                      vf->func == 2, "VF name and BDF (%s)", vf->dev_name);
            CHECK(vf->ib_devs && vf->ib_devs[0] && strcmp(vf->ib_devs[0], "mlx5_2") == 0 && !vf->ib_devs[1],
                  "VF ib_devs");
            CHECK(vf->net_devs && vf->net_devs[0] && strcmp(vf->net_devs[0], "enp5s0f0v0") == 0, "VF net_devs");
        }
    }
    mdevices_info_destroy(di, len);

    di = mdevices_info_v(MDEVS_TAVOR_CR, &len, 1);
    CHECK(di != NULL && len == 3, "mdevices_info_v(verbose) lists both functions and the VF (%d)", len);
    if (di && len == 3) {
        CHECK(di[1].pci.func == 1 && strcmp(di[1].pci.ib_devs[0], "mlx5_1") == 0, "second function");
    }
    mdevices_info_destroy(di, len);
    di = mdevices_info_v(MDEVS_TAVOR_CR, &len, 0);
    CHECK(di != NULL && len == 1, "mdevices_info_v(0): 1");
    mdevice_info_destroy(di, len);
    di = mdevices_info(0, &len);
    CHECK(di == NULL && len == 0, "mask without MDEVS_TAVOR_CR: NULL, 0");
    errno = 0;
    CHECK(mdevices_info(MDEVS_ALL, NULL) == NULL && errno == EINVAL, "NULL len: NULL, EINVAL");
    mdevices_info_destroy(NULL, 3);

    mfile *mf = mopen("0000:05:00.0");
    char rdma[32] = "junk";
    get_pci_dev_rdma(mf, rdma);
    CHECK(strcmp(rdma, "mlx5_0") == 0, "get_pci_dev_rdma: %s", rdma);
    mclose(mf);
    return tap_done();
}
