/* Compiled (syntax only) by `make ctest-build` as C99 and C11 with -pedantic-errors and as C++:
 * the installed headers must be valid in each. */
#include <mtcr_ul/mtcr.h>

int main(void)
{
    mfile *mf = mopen(DEV_MST_EXAMPLE2);
    return mf ? mclose(mf) : 1;
}
