/* ctest-config: default
 * Includes the header the way mstflint tools do through pkg-config (<mtcr_ul/mtcr.h>) and uses
 * a few declarations; built with -Wall -Wextra -Werror like every ctest program. */
#include <mtcr_ul/mtcr.h>
#include <mtcr_ul/mtcr_com_defs.h>

#include <stddef.h>

#include "tap.h"

int main(void)
{
    mfile *mf = NULL;
    u_int32_t v = 0;
    CHECK(mread4(mf, HW_ID_ADDR, &v) == -1, "declarations usable through <mtcr_ul/mtcr.h>");
    CHECK(m_err2str(ME_OK) != NULL, "m_err2str declared");
    return tap_done();
}
