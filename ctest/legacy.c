/* ctest-config: legacy
 * A device without a functional VSEC: the old address/data window at config 0x58/0x5c. */
#include <errno.h>
#include <stdio.h>

#include "mtcr.h"
#include "tap.h"

int main(void)
{
    mfile *mf = mopen("05:00.0");
    if (!CHECK(mf != NULL, "mopen (%s)", mf ? "ok" : mtcr_last_error())) {
        return tap_done();
    }
    u_int32_t v = 0, d[3] = {1, 2, 3}, r[3] = {0};
    CHECK(mf->tp == MST_PCICONF && mf->functional_vsec_supp == 0, "config access without VSEC");
    CHECK(mread4(mf, HW_ID_ADDR, &v) == 4 && (v & 0xffff) == 0x20d, "hw id through the window (%#x)", v);
    CHECK(mwrite4_block(mf, 0x40000, d, 12) == 12 && mread4_block(mf, 0x40000, r, 12) == 12 && r[2] == 3,
          "block round trip");
    CHECK(mread4_block(mf, 0, r, 6) == EINVAL, "unaligned length: EINVAL (22) on the legacy path");
    CHECK(mset_addr_space(mf, AS_ICMD) == -1, "no address spaces without VSEC");
    CHECK(is_gw_access(mf) == 0, "is_gw_access: 0");
    u_int32_t s = 0xdead;
    CHECK(MREAD4_SEMAPHORE(mf, 0x40000, &s) == ME_OK && s == 0, "MREAD4_SEMAPHORE keeps bit 31 only (%#x)", s);
    /* No ICMD here: as upstream, the register limit is still ICMD's (chosen by the device id)
     * and an access fails opening ICMD, not on its size. */
    CHECK(mget_max_reg_size(mf, MACCESS_REG_METHOD_GET) == 812, "mget_max_reg_size: 812 (%d)",
          mget_max_reg_size(mf, MACCESS_REG_METHOD_GET));
    u_int8_t reg[160] = {0};
    int st = -1;
    int rc = maccess_reg(mf, 0x9020, MACCESS_REG_METHOD_GET, reg, sizeof(reg), sizeof(reg), sizeof(reg), &st);
    CHECK(rc == ME_ICMD_NOT_SUPPORTED && st == -1, "maccess_reg: ME_ICMD_NOT_SUPPORTED, \"%s\" (%#x)", m_err2str(rc),
          rc);
    rc = maccess_reg(mf, 0x9020, MACCESS_REG_METHOD_GET, reg, 900, 900, 900, &st);
    CHECK(rc == ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT, "900 bytes: ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT (%#x)", rc);
    mclose(mf);
    return tap_done();
}
