/* The tools-HCR functions libmtcr_ul exports but mtcr.h does not declare (mstflint declares
 * them in its private mtcr_tools_cif.h): the ctest programs that call them include this. */
#ifndef CTEST_TOOLS_CIF_H
#define CTEST_TOOLS_CIF_H

#include "mtcr.h"

int tools_cmdif_is_supported(mfile *mf);
int tools_cmdif_is_cr_mbox_supported(mfile *mf);
int tools_cmdif_reg_access(mfile *mf, void *data, int write_data_size, int read_data_size);
int tools_cmdif_send_inline_cmd_int(mfile *mf, u_int32_t in_param[2], u_int32_t out_param[2],
                                    u_int32_t input_modifier, u_int16_t opcode,
                                    u_int8_t opcode_modifier);
int tools_cmdif_send_mbox_command_int(mfile *mf, u_int32_t input_modifier, u_int16_t opcode,
                                      u_int8_t opcode_modifier, int data_offs_in_mbox, void *data,
                                      int write_data_size, int read_data_size, int skip_write,
                                      int use_cr_mbox);

#endif
