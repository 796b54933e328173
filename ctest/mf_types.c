/* ctest-config: default
 * Source compatibility with mstflint v4.36's installed headers: includes them the way upstream's
 * tools do (<mstflint/mtcr.h>, "mtcr_mf.h", "mtcr_com_defs.h", "fwctrl_ioctl.h"), uses every
 * named member type of `struct mfile_t` and the enums tools rely on, and checks sizeof/offsetof
 * against the numbers upstream's headers give on x86_64. Defines a static `mopen_fw_ctx` with
 * four `void*` as mflash.c and fw_comps_mgr.cpp do (the public header must not declare it). */
#include <stddef.h>
#include <string.h>

#include <mstflint/mtcr.h>
#include <mtcr_mf.h>
#include <mtcr_com_defs.h>
#include <fwctrl_ioctl.h>

#include "tap.h"

#define SZ(t, n) CHECK(sizeof(t) == (n), "sizeof(" #t ") == %d (got %zu)", (n), sizeof(t))
#define OFF(t, f, n) CHECK(offsetof(t, f) == (n), "offsetof(" #t ", " #f ") == %d (got %zu)", (n), offsetof(t, f))
#define VAL(c, n) CHECK((unsigned long)(c) == (unsigned long)(n), #c " == %#lx", (unsigned long)(n))

/* As mflash.c / fw_comps_mgr.cpp: a file-local firmware-context open filling mf->context. */
static mfile *mopen_fw_ctx(void *fw_cmd_context, void *fw_cmd_func, void *dma_func, void *extra_data)
{
    static mfile mf;
    if (!fw_cmd_context || !fw_cmd_func || !extra_data) {
        return NULL;
    }
    memset(&mf, 0, sizeof(mf));
    mf.flags = MDEVS_FWCTX;
    mf.tp = MST_FWCTX;
    mf.context.fw_cmd_context = fw_cmd_context;
    mf.context.fw_cmd_func = fw_cmd_func;
    mf.context.fw_cmd_dma = dma_func;
    return &mf;
}

/* A callback of the type of mf->mpci_change. */
static int changes;
static void count_change(mfile *mf)
{
    (void)mf;
    changes++;
}

int main(void)
{
    int ctx_a = 1, ctx_b = 2, ctx_c = 3;
    mfile *mf = mopen_fw_ctx(&ctx_a, &ctx_b, &ctx_c, &ctx_a);
    CHECK(mf && mf->context.fw_cmd_context == &ctx_a && mf->context.fw_cmd_func == &ctx_b &&
              mf->context.fw_cmd_dma == &ctx_c && mf->tp == MST_FWCTX,
          "static mopen_fw_ctx(4 x void*) fills mf->context");

    /* Every named member type of struct mfile_t, by its upstream name. */
    ctx_params cp = mf->context;
    tools_hcr_params hp = {1};
    gearbox_info gb;
    cables_info ci = {0x50};
    io_region region = {0x100, 0x1ff};
    MIB_Private mib = {0};
    struct page_list upl = {NULL, 0};
    icmd_params ip;
    access_reg_params arp;
    struct mft_core_wrapper core = {NULL, NULL, NULL};
    struct mtcr_page_addresses pa = {0x1000, 0x2000};
    struct mtcr_page_info pi;
    struct mtcr_read_dword_from_config_space rd = {0x10, 0};
    f_mpci_change change = count_change;
    mtcr_status_e st = MTCR_STATUS_TRUE;
    sem_lock_method_t lock = SEM_LOCK_SET;
    rw_op_t op = WRITE_OP;
    gearbox_type gt = GB_AMOS;
    gearbox_connection_t gc = GEARBPX_OVER_I2C;
    Mdevs md = MDEVS_TAVOR_CR;
    VSCCapCom cap = VCC_SEMAPHORE_SPACE_SUPPORTED;
    address_space_t as = AS_SEMAPHORE;
    mtcr_access_method_t am = MTCR_ACCESS_CONFIG;
    dma_lib_hdl *dma = NULL;
    struct mlx5_umem_buff umem;

    memset(&gb, 0, sizeof(gb));
    memset(&ip, 0, sizeof(ip));
    memset(&arp, 0, sizeof(arp));
    memset(&pi, 0, sizeof(pi));
    memset(&umem, 0, sizeof(umem));
    gb.gb_type = gt;
    gb.gb_conn_type = gc;
    gb.is_gearbox = 1;
    gb.is_gb_mngr = 0;
    ip.icmd_ready = st;
    arp.max_reg_size[MACCESS_REG_METHOD_GET] = ICMD_MAX_REG_SIZE;
    pi.page_addresses_array[1] = pa;

    mf->ext_info = ci;
    mf->iorw_regions = &region;
    mf->mib = mib;
    mf->icmd = ip;
    mf->context = cp;
    mf->icmd_support = st;
    mf->hcr_params = hp;
    mf->acc_reg_params = arp;
    mf->mpci_change = change;
    mf->gb_info = gb;
    mf->user_page_list = upl;
    mf->mft_core_object = core;
    mf->umem_buff = &umem;
    mf->flags = md;
    mf->mpci_change(mf);
    CHECK(changes == 1, "mf->mpci_change is an f_mpci_change");
    CHECK(mf->gb_info.is_gearbox == 1 && mf->gb_info.is_gb_mngr == 0 && mf->gb_info.gb_type == GB_AMOS,
          "mf->gb_info.is_gearbox / is_gb_mngr");
    CHECK(mf->ext_info.slave_addr_additional_offset == 0x50 && mf->iorw_regions->end == 0x1ff,
          "cables_info, io_region");
    CHECK(mf->hcr_params.supp_cr_mbox == 1 && mf->icmd.icmd_ready == MTCR_STATUS_TRUE,
          "tools_hcr_params, icmd_params");
    CHECK(mf->acc_reg_params.max_reg_size[MACCESS_REG_METHOD_GET] == 812, "access_reg_params");
    CHECK(lock == 1 && op == 1 && cap == 8 && as == 0xa && am == 0x10 && dma == NULL && rd.offset == 0x10,
          "sem_lock_method_t, rw_op_t, VSCCapCom, address_space_t, mtcr_access_method_t, dma_lib_hdl");
    mf->vsec_cap_mask = (1u << VCC_INITIALIZED) | (1u << VCC_CRSPACE_SPACE_SUPPORTED) |
                        (1u << VCC_ICMD_EXT_SPACE_SUPPORTED) | (1u << VCC_SEMAPHORE_SPACE_SUPPORTED);
    mf->functional_vsec_supp = 1;
    CHECK(VSEC_SUPPORTED_UL(mf) && VSEC_MIN_SUPPORT_UL(mf) && !VSEC_PXIR_SUPPORT(mf), "VSEC_* macros");

    /* Layout (upstream v4.36 headers on x86_64). */
    SZ(mfile, 2672);
    SZ(ctx_params, 24); SZ(tools_hcr_params, 4); SZ(gearbox_info, 2080); SZ(cables_info, 4);
    SZ(io_region, 8); SZ(MIB_Private, 4); SZ(struct page_list, 16); SZ(icmd_params, 88);
    SZ(access_reg_params, 12); SZ(struct mft_core_wrapper, 24); SZ(struct mtcr_page_addresses, 16);
    SZ(struct mtcr_page_info, 144); SZ(struct mtcr_read_dword_from_config_space, 8);
    SZ(mtcr_status_e, 4); SZ(sem_lock_method_t, 4); SZ(Mdevs, 4); SZ(dev_info, 6208); SZ(vf_info, 536);
    OFF(mfile, ext_info, 44); OFF(mfile, ext_info.slave_addr_additional_offset, 44);
    OFF(mfile, iorw_regions, 56); OFF(mfile, mib, 156); OFF(mfile, mib.dummy, 156);
    OFF(mfile, icmd, 248); OFF(mfile, icmd.icmd_ready, 320);
    OFF(mfile, context, 336); OFF(mfile, context.fw_cmd_context, 336);
    OFF(mfile, context.fw_cmd_func, 344); OFF(mfile, context.fw_cmd_dma, 352);
    OFF(mfile, icmd_support, 384); OFF(mfile, hcr_params, 420); OFF(mfile, hcr_params.supp_cr_mbox, 420);
    OFF(mfile, mpci_change, 488); OFF(mfile, gb_info, 496);
    OFF(mfile, gb_info.is_gearbox, 500); OFF(mfile, gb_info.is_gb_mngr, 501);
    OFF(mfile, gb_info.data_res_addr, 2572);
    OFF(mfile, user_page_list, 2576); OFF(mfile, user_page_list.page_amount, 2584);
    OFF(mfile, dma_props, 2592); OFF(mfile, mft_core_object, 2600);
    OFF(mfile, mft_core_object.reset_access, 2616); OFF(mfile, fwctl_env_var_debug, 2624);
    OFF(mfile, fwctl_fd, 2632); OFF(mfile, umem_buff, 2664);
    OFF(gearbox_info, gb_type, 0); OFF(gearbox_info, is_gearbox, 4); OFF(gearbox_info, is_gb_mngr, 5);
    OFF(gearbox_info, gearbox_index, 8); OFF(gearbox_info, ilne_card_id, 12);
    OFF(gearbox_info, gb_conn_type, 16); OFF(gearbox_info, gb_mngr_full_name, 20);
    OFF(gearbox_info, gearbox_full_name, 532); OFF(gearbox_info, i2c_secondary, 1044);
    OFF(gearbox_info, addr_width, 1045); OFF(gearbox_info, device_orig_name, 1046);
    OFF(gearbox_info, device_real_name, 1558); OFF(gearbox_info, data_req_addr, 2072);
    OFF(gearbox_info, data_res_addr, 2076);
    OFF(ctx_params, fw_cmd_func, 8); OFF(ctx_params, fw_cmd_dma, 16);
    OFF(io_region, end, 4); OFF(struct page_list, page_amount, 8);
    OFF(struct mft_core_wrapper, reset_access, 16); OFF(struct mtcr_read_dword_from_config_space, data, 4);
    OFF(struct mtcr_page_info, page_addresses_array[1].dma_address, 32);

    /* fwctrl_ioctl.h (kernel fwctl uAPI). */
    SZ(struct fwctl_info, 24); SZ(struct fwctl_rpc, 32); SZ(struct mlx5_umem_buff, 32);
    SZ(struct fwctl_rsc_umem_reg, 48); SZ(struct fwctl_rsc_destroy, 24);
    OFF(struct fwctl_info, out_device_data, 16); OFF(struct fwctl_rpc, out, 24);
    OFF(struct fwctl_rsc_umem_reg, rsc_id, 40); OFF(struct fwctl_rsc_destroy, rsc_id, 20);
    OFF(struct mlx5_umem_buff, rsc_id, 24);
    VAL(FWCTL_INFO, 0x9a00); VAL(FWCTL_RPC, 0x9a01); VAL(FWCTL_RSC_DESTROY, 0x9a02);
    VAL(FWCTL_RSC_UMEM_REG, 0x9a03); VAL(FWCTL_DEVICE_TYPE_MLX5, 1); VAL(FWCTL_RPC_DEBUG_WRITE_FULL, 3);
    VAL(FWCTL_UMEM_FLAG_MCDD, 2); VAL(FWCTL_METHOD_READ, 1);
    CHECK(strcmp(FWCTL_ENV_VAR_DEBUG, "FWCTL_DEBUG") == 0, "FWCTL_ENV_VAR_DEBUG");

    /* Numbers upstream defines with #define or enums. */
    VAL(INBAND_MAX_GMP_REG_SIZE, 3520); VAL(ICMD_MAX_REG_SIZE, 812); VAL(TOOLS_HCR_MAX_REG_SIZE, 268);
    VAL(MTCR_STATUS_UNKNOWN, 0); VAL(MTCR_STATUS_FALSE, 2); VAL(SEM_LOCK_GET, 0);
    VAL(GB_ABIR, 2); VAL(GEARBPX_OVER_SWITCH, 3); VAL(GEARBPXO_UNKNOWN_CONNECTION, 0);
    VAL(GEARBOX_ADDR_WIDTH, 4); VAL(GB_MNGR_SLAVE_ADDR, 0x33); VAL(MTCR_I2C_secondary_ADDRESS, 0x48);
    VAL(MST_HEADER_VERSION, 1); VAL(MST_SUFFIX_MAXLEN, 11); VAL(DEV_NAME_SZ, 512); VAL(MAX_PAGES_SIZE, 8);
    VAL(BLUEFIELD4_PCI_DEVICE_ID_MANAGMENT_INTERFACE, 0xc2d6); VAL(AUTHENTICATION_FAILURE, 0xffa6);
    VAL(INITIALIZING_BIT_OFFSET_IN_VSC_RECOVERY_SPACE, 0); VAL(MST_ANAFA2, MST_TAVOR);
    CHECK(strcmp(LOCK_FILE_DIR, "/tmp/mstflint_lockfiles") == 0 && strcmp(MST_PREFIX_64_BIT, "mst64_") == 0,
          "string macros");
    return tap_done();
}
