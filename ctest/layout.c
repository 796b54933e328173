/* ctest-config: default
 * sizeof/offsetof of every public structure and field against mstflint v4.36 (x86_64) numbers
 * (reference mtcr_api.md §1.9), and the values of the public constants. */
#include <stddef.h>
#include <stdio.h>

#include "mtcr.h"
#include "tap.h"

#define SZ(t, n) CHECK(sizeof(t) == (n), "sizeof(" #t ") == %d (got %zu)", (n), sizeof(t))
#define OFF(t, f, n) CHECK(offsetof(t, f) == (n), "offsetof(" #t ", " #f ") == %d (got %zu)", (n), offsetof(t, f))
#define VAL(c, n) CHECK((unsigned long)(c) == (unsigned long)(n), #c " == %#lx", (unsigned long)(n))

int main(void)
{
    SZ(mfile, 2672);
    OFF(mfile, hw_dev_id, 0); OFF(mfile, pci_device_id, 2); OFF(mfile, rev_id, 4); OFF(mfile, tp, 8);
    OFF(mfile, orig_tp, 12); OFF(mfile, res_tp, 16); OFF(mfile, dtype, 20); OFF(mfile, itype, 24);
    OFF(mfile, device_hw_id, 28); OFF(mfile, is_i2cm, 32); OFF(mfile, is_vm, 36); OFF(mfile, cr_access, 40);
    OFF(mfile, ext_info, 44); OFF(mfile, i2c_secondary, 48); OFF(mfile, gpio_en, 52);
    OFF(mfile, iorw_regions, 56); OFF(mfile, regions_num, 64); OFF(mfile, dev_name, 72); OFF(mfile, fd, 80);
    OFF(mfile, res_fd, 84); OFF(mfile, sock, 88); OFF(mfile, is_mtserver_req, 92);
    OFF(mfile, bar_virtual_addr, 96); OFF(mfile, big_endian, 104); OFF(mfile, cr_space_offset, 108);
    OFF(mfile, map_size, 112); OFF(mfile, bar0_gw_offset, 116); OFF(mfile, file_lock_descriptor, 120);
    OFF(mfile, start_idx, 128); OFF(mfile, ddr3_ptr, 136); OFF(mfile, ddr3_start_idx, 144);
    OFF(mfile, ddr3_map_size, 152); OFF(mfile, mib, 156); OFF(mfile, ctx, 160); OFF(mfile, fallback_mf, 168);
    OFF(mfile, i2c_RESERVED, 176); OFF(mfile, i2c_smbus, 180); OFF(mfile, flags, 184);
    OFF(mfile, connectx_wa_slot, 188); OFF(mfile, connectx_wa_last_op_write, 192);
    OFF(mfile, connectx_wa_stat, 196); OFF(mfile, connectx_wa_max_retries, 200);
    OFF(mfile, connectx_wa_num_of_writes, 208); OFF(mfile, connectx_wa_num_of_retry_writes, 216);
    OFF(mfile, server_ver_major, 224); OFF(mfile, server_ver_minor, 228); OFF(mfile, proto_type, 232);
    OFF(mfile, dinfo, 240); OFF(mfile, icmd, 248); OFF(mfile, context, 336); OFF(mfile, old_mst, 360);
    OFF(mfile, mst_version_major, 364); OFF(mfile, mst_version_minor, 368);
    OFF(mfile, functional_vsec_supp, 372); OFF(mfile, pxir_vsec_supp, 376); OFF(mfile, vsec_type, 380);
    OFF(mfile, icmd_support, 384); OFF(mfile, vsec_addr, 392); OFF(mfile, address_region_addr, 400);
    OFF(mfile, vsec_cap_mask, 408); OFF(mfile, address_space, 412); OFF(mfile, multifunction, 416);
    OFF(mfile, hcr_params, 420); OFF(mfile, acc_reg_params, 424); OFF(mfile, acc_reg_params.max_reg_size, 424);
    OFF(mfile, ul_ctx, 440); OFF(mfile, dl_context, 448); OFF(mfile, is_cable, 456); OFF(mfile, cable_ctx, 464);
    OFF(mfile, linkx_chip_devid, 472); OFF(mfile, cable_chip_ctx, 480); OFF(mfile, mpci_change, 488);
    OFF(mfile, gb_info, 496); OFF(mfile, user_page_list, 2576); OFF(mfile, dma_props, 2592);
    OFF(mfile, mft_core_object, 2600); OFF(mfile, fwctl_env_var_debug, 2624); OFF(mfile, fwctl_fd, 2632);
    OFF(mfile, is_remote, 2636); OFF(mfile, is_zombiefish, 2640);
    OFF(mfile, vsc_recovery_space_flash_control_vld, 2644); OFF(mfile, nvml_device, 2648);
    OFF(mfile, umem_id, 2656); OFF(mfile, umem_buff, 2664);

    SZ(icmd_params, 88);
    OFF(icmd_params, icmd_opened, 0); OFF(icmd_params, max_cmd_size, 32);
    OFF(icmd_params, lock_key, 48); OFF(icmd_params, dma_pa, 56);
    OFF(icmd_params, dma_size, 64); OFF(icmd_params, icmd_ready, 72);
    OFF(icmd_params, syndrome, 76); OFF(icmd_params, syndrome_addr, 80);

    SZ(dev_info, 6208);
    OFF(dev_info, type, 0); OFF(dev_info, dev_name, 4); OFF(dev_info, ul_mode, 516);
    OFF(dev_info, pci.domain, 520); OFF(dev_info, pci.bus, 522); OFF(dev_info, pci.dev, 523);
    OFF(dev_info, pci.func, 524); OFF(dev_info, pci.dev_id, 526); OFF(dev_info, pci.vend_id, 528);
    OFF(dev_info, pci.class_id, 532); OFF(dev_info, pci.subsys_id, 536); OFF(dev_info, pci.subsys_vend_id, 538);
    OFF(dev_info, pci.cr_dev, 540); OFF(dev_info, pci.conf_dev, 1052); OFF(dev_info, pci.net_devs, 1568);
    OFF(dev_info, pci.ib_devs, 1576); OFF(dev_info, pci.numa_node, 1584); OFF(dev_info, pci.virtfn_arr, 5680);
    OFF(dev_info, pci.virtfn_count, 5688); OFF(dev_info, pci.fwctl_dev, 5690);

    SZ(vf_info, 536);
    OFF(vf_info, dev_name, 0); OFF(vf_info, domain, 512); OFF(vf_info, bus, 514); OFF(vf_info, dev, 515);
    OFF(vf_info, func, 516); OFF(vf_info, net_devs, 520); OFF(vf_info, ib_devs, 528);

    SZ(struct mtcr_page_info, 144);
    OFF(struct mtcr_page_info, page_amount, 0); OFF(struct mtcr_page_info, page_pointer_start, 8);
    OFF(struct mtcr_page_info, page_addresses_array, 16);
    OFF(struct mtcr_page_info, page_addresses_array[1].virtual_address, 40);

    /* Constants (mtcr_com_defs.h) */
    VAL(MST_PCI, 0x8); VAL(MST_PCICONF, 0x10); VAL(MST_IB, 0x40); VAL(MST_DEFAULT, 0xffee3ffe);
    VAL(MST_CABLE, 0x8000); VAL(MST_LINKX_CHIP, 0x100000); VAL(MST_BAR0_GW_PCI, 0x200000);
    VAL(MTCR_ACCESS_MEMORY, 8); VAL(MTCR_ACCESS_CONFIG, 0x10);
    VAL(MST_TAVOR, 1); VAL(MST_NOADDR, 3);
    VAL(MDEVS_TAVOR_CR, 0x20); VAL(MDEVS_IB, 0x400); VAL(MDEVS_TAVOR, 0x38); VAL(MDEVS_ALL, 0xffffffff);
    VAL(AS_ICMD_EXT, 1); VAL(AS_CR_SPACE, 2); VAL(AS_ICMD, 3); VAL(AS_ND_CRSPACE, 6);
    VAL(AS_SEMAPHORE, 0xa); VAL(AS_RECOVERY, 0xc); VAL(AS_MAC, 0xf); VAL(AS_PCI_CRSPACE, 0x102);
    VAL(AS_PCI_GLOBAL_SEMAPHORE, 0x10a); VAL(AS_END, 0x10b);
    VAL(VCC_SEMAPHORE_SPACE_SUPPORTED, 8); VAL(VCC_PCI_GLOBAL_SEMAPHORE_SPACE_SUPPORTED, 0xf);
    VAL(ME_OK, 0); VAL(ME_TIMEOUT, 7); VAL(ME_ADDRESS_OUT_OF_RANGE, 8); VAL(ME_UNSUPPORTED_OPERATION, 17);
    VAL(ME_GMP_MAD_UNSUPPORTED_OPERATION, 19); VAL(ME_REG_ACCESS_BAD_STATUS_ERR, 0x100);
    VAL(ME_REG_ACCESS_BAD_OUTPUT_LEN, 0x11e); VAL(ME_ICMD_STATUS_CR_FAIL, 0x200);
    VAL(ME_ICMD_UNABLE_TO_TAKE_SEMAOHORE, 0x211); VAL(ME_CMDIF_UNKN_STATUS, 0x308);
    VAL(ME_MAD_GENERAL_ERR, 0x406); VAL(ME_LAST, 0x507);
    VAL(MACCESS_REG_METHOD_GET, 1); VAL(MACCESS_REG_METHOD_SET, 2);
    VAL(HW_ID_ADDR, 0xf0014); VAL(DEV_NAME_SZ, 512); VAL(MAX_PAGES_SIZE, 8);
    return tap_done();
}
