/* ctest-config: fwctl
 * Register access over fwctl (/dev/fwctl/fwctlN): mopen of fwctl names, crspace refusals,
 * maccess_reg / mget_max_reg_size / icmd_send_command over FWCTL_RPC with the results of ICMD
 * on the same device, open_fwctl_dev / set_fwctl_dev, mdevices_info's fwctl_dev, the
 * mstflint fwctl helpers, the lockdown fall-over of a PCI open, bad input. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mtcr.h"
#include "tap.h"

/* mstflint's internal fwctl helpers (its fwctrl_ioctl.h; not in the public header). */
int fwctl_control_access_register(int fd, void *data_in, int size_in, u_int16_t reg_id, int method,
                                  int *reg_status, mfile *mf);
void fwctl_set_device_id(mfile *mf);
struct mlx5_umem_buff *mlx5lib_alloc_umem_mkey_buff(mfile *mf, size_t size, int page_size);
void mlx5lib_free_umem_mkey_buff(mfile *mf);

#define MGIR 0x9020
#define MPEGC 0x9056

static int get(mfile *mf, u_int16_t id, u_int8_t *reg, u_int32_t size, int *st)
{
    memset(reg, 0, size);
    return maccess_reg(mf, id, MACCESS_REG_METHOD_GET, reg, size, size, size, st);
}

int main(void)
{
    u_int8_t a[1024], b[1024];
    int st = -1, st2 = -1;
    u_int32_t v = 0;

    mfile *pci = mopen("05:00.0");
    mfile *fw = mopen("fwctl0");
    if (!CHECK(pci && fw, "mopen 05:00.0 and fwctl0")) {
        return tap_done();
    }
    CHECK(fw->tp == MST_FWCTL_CONTROL_DRIVER, "fwctl0: tp MST_FWCTL_CONTROL_DRIVER (%#x)", fw->tp);
    CHECK(fw->fd >= 0 && fw->fwctl_fd == -1, "fwctl0: fd is the node, fwctl_fd -1");
    int r4 = mread4(fw, 0xf0014, &v);
    CHECK(r4 == 4 && (v & 0xffff) == 0x20d, "mread4 0xf0014: hw id %#x", v);
    r4 = read_device_id(fw, &v);
    CHECK(r4 == 4 && (v & 0xffff) == 0x20d, "read_device_id %#x", v);
    CHECK(fw->hw_dev_id == 0x20d && fw->device_hw_id == 0x20d, "hw_dev_id / device_hw_id");
    errno = 0;
    r4 = mread4(fw, 0x100, &v);
    int e = errno;
    const char *why = mtcr_last_error();
    CHECK(r4 == -1 && e == EOPNOTSUPP && strstr(why, "fwctl"), "mread4 elsewhere: -1, EOPNOTSUPP (%s)", why);
    CHECK(mwrite4(fw, 0x100, 1) == -1 && errno == EOPNOTSUPP, "mwrite4: -1, EOPNOTSUPP");
    CHECK(mread4_block(fw, 0x100, (u_int32_t *)a, 16) == -1, "mread4_block: -1");
    CHECK(mget_max_reg_size(fw, MACCESS_REG_METHOD_GET) == 812, "mget_max_reg_size 812");

    /* Same registers as over ICMD. */
    int ra = get(pci, MGIR, a, 160, &st);
    int rb = get(fw, MGIR, b, 160, &st2);
    CHECK(ra == ME_OK && rb == ME_OK && st == 0 && st2 == 0 && memcmp(a, b, 160) == 0,
          "MGIR over fwctl = over ICMD");
    for (int i = 0; i < 44; i++) {
        a[i] = (u_int8_t)(i * 7 + 3);
    }
    CHECK(maccess_reg(fw, MPEGC, MACCESS_REG_METHOD_SET, a, 44, 44, 44, &st) == ME_OK, "MPEGC set over fwctl");
    CHECK(get(pci, MPEGC, b, 44, &st) == ME_OK && memcmp(a, b, 44) == 0, "... read back over ICMD");
    ra = get(pci, 0x9999, a, 16, &st);
    rb = get(fw, 0x9999, b, 16, &st2);
    CHECK(ra == ME_REG_ACCESS_REG_NOT_SUPP && rb == ra && st2 == ME_REG_ACCESS_REG_NOT_SUPP,
          "unknown register: %#x / %#x, fwctl reg_status is the MError (%#x) as mstflint", ra, rb, st2);
    ra = get(pci, MGIR, a, 16, &st);
    rb = get(fw, MGIR, b, 16, &st2);
    CHECK(ra == ME_REG_ACCESS_BAD_PARAM && rb == ra, "short register: BAD_PARAM both (%#x / %#x)", ra, rb);
    st = -7;
    CHECK(maccess_reg(fw, MGIR, MACCESS_REG_METHOD_GET, a, 816, 816, 816, &st) ==
                  ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT && st == -7,
          "816 bytes: SIZE_EXCEEDS_LIMIT, status untouched");
    CHECK(maccess_reg(fw, MGIR, MACCESS_REG_METHOD_GET, NULL, 160, 160, 160, &st) == ME_BAD_PARAMS,
          "NULL data: ME_BAD_PARAMS");

    /* ICMD level: ACCESS_REGISTER mailboxes go over fwctl. */
    CHECK(icmd_open(fw) == ME_OK, "icmd_open on a fwctl handle");
    u_int8_t mbox[180];
    memset(mbox, 0, sizeof(mbox));
    mbox[0] = 0x08; mbox[1] = 0x04;            /* operation TLV: type 1, len 4 */
    mbox[4] = 0x90; mbox[5] = 0x20; mbox[6] = 1; mbox[7] = 1; /* MGIR, GET, class 1 */
    mbox[16] = 0x18; mbox[17] = 0x29;          /* register TLV: type 3, 41 dwords */
    int rc = icmd_send_command(fw, 0x9001, mbox, sizeof(mbox), 0);
    CHECK(rc == ME_OK && (mbox[2] & 0x7f) == 0 && mbox[20 + 10] == 0x02 && mbox[20 + 11] == 0x0d,
          "icmd_send_command ACCESS_REGISTER over fwctl (%#x)", rc);
    CHECK(icmd_send_command(fw, 0x1234, mbox, 16, 0) == ME_ICMD_NOT_SUPPORTED,
          "other ICMD opcodes: ME_ICMD_NOT_SUPPORTED");

    /* mstflint's helpers on the handle's descriptor. */
    memset(a, 0, 160);
    st = -1;
    CHECK(fwctl_control_access_register(fw->fd, a, 160, MGIR, 1, &st, fw) == 0 && st == 0 && a[11] == 0x0d,
          "fwctl_control_access_register MGIR");
    CHECK(fwctl_control_access_register(fw->fd, a, 16, 0x9999, 1, &st, fw) == 0 &&
              st == ME_REG_ACCESS_REG_NOT_SUPP && fw->icmd.syndrome != 0,
          "fwctl_control_access_register: firmware status as MError, syndrome kept");
    fw->device_hw_id = 0;
    fwctl_set_device_id(fw);
    CHECK(fw->device_hw_id == 0x20d, "fwctl_set_device_id: %#x", fw->device_hw_id);
    errno = 0;
    CHECK(mlx5lib_alloc_umem_mkey_buff(fw, 4096, 4096) == NULL && errno == ENOTTY,
          "umem registration: NULL, ENOTTY (not in mainline fwctl)");
    mlx5lib_free_umem_mkey_buff(fw);
    mclose(fw);

    fw = mopen("/dev/fwctl/fwctl0");
    CHECK(fw && fw->tp == MST_FWCTL_CONTROL_DRIVER, "mopen /dev/fwctl/fwctl0");
    mclose(fw);
    fw = mopen_adv("fwctl0", MST_DEFAULT);
    CHECK(fw != NULL, "mopen_adv fwctl0 MST_DEFAULT");
    mclose(fw);
    errno = 0;
    CHECK(mopen("fwctl9") == NULL && errno == ENODEV, "mopen fwctl9: NULL, ENODEV");

    /* Attach the node to the PCI open. */
    char name[DEV_NAME_SZ];
    set_fwctl_dev(name, 0, 5, 0, 0);
    CHECK(strcmp(name, "/dev/fwctl/fwctl0") == 0, "set_fwctl_dev 05:00.0: %s", name);
    set_fwctl_dev(name, 0, 7, 0, 0);
    CHECK(name[0] == 0, "set_fwctl_dev 07:00.0: none");
    CHECK(pci->fwctl_fd == -1, "PCI open: fwctl_fd -1");
    open_fwctl_dev(pci, 0, 5, 0, 0);
    CHECK(pci->fwctl_fd >= 0, "open_fwctl_dev: fwctl_fd %d", pci->fwctl_fd);
    CHECK(get(pci, MGIR, a, 160, &st) == ME_OK && a[11] == 0x0d, "maccess_reg over the attached node");
    CHECK(mread4(pci, 0xf0014, &v) == 4 && (v & 0xffff) == 0x20d, "crspace still over config space");
    mclose(pci);
    mfile *other = mopen("07:00.0");
    if (other) {
        open_fwctl_dev(other, 0, 7, 0, 0);
        CHECK(other->fwctl_fd == -1 && errno == ENODEV, "open_fwctl_dev without a node: fwctl_fd -1, ENODEV");
        mclose(other);
    }

    /* mdevices_info reports the node. */
    int n = 0;
    dev_info *di = mdevices_info(MDEVS_TAVOR_CR, &n);
    int seen = 0;
    for (int i = 0; di && i < n; i++) {
        if (di[i].pci.bus == 5) {
            seen |= strcmp(di[i].pci.fwctl_dev, "/dev/fwctl/fwctl0") == 0;
        }
        if (di[i].pci.bus == 7) {
            seen |= (di[i].pci.fwctl_dev[0] == 0) << 1;
        }
    }
    CHECK(seen == 3, "mdevices_info: fwctl_dev of 05:00.0, none for 07:00.0");
    mdevices_info_destroy(di, n);

    /* Kernel lockdown: config writes and resource0 refused: mopen falls over to fwctl. */
    mfile *ld = mopen("06:00.0");
    why = ld ? "ok" : mtcr_last_error();
    if (CHECK(ld != NULL, "mopen 06:00.0 under lockdown (%s)", why)) {
        CHECK(ld->tp == MST_FWCTL_CONTROL_DRIVER, "... as a fwctl handle");
        CHECK(get(ld, MGIR, a, 160, &st) == ME_OK, "register access works");
        r4 = mread4(ld, 0x100, &v);
        why = mtcr_last_error();
        CHECK(r4 == -1 && strstr(why, "lockdown") && strstr(why, "fwctl"), "crspace: %s", why);
        mclose(ld);
    }
    errno = 0;
    CHECK(mopen("pciconf-06:00.0") == NULL && errno == EPERM, "config forced by the name: EPERM");
    return tap_done();
}
