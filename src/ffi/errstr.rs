//! `m_err2str`: the text of an MError code.
//!
//! Texts are those of the stock library as Debian ships it (mstflint 4.21, checked against its
//! `cmtcr.so` by `tests/err2str_stock.rs`), looked up by code *name*: the numbers are v4.36's
//! (4.21 lacks ME_ADDRESS_OUT_OF_RANGE, so its codes 8..18 are ours 9..19). Codes that 4.21 does
//! not name (0x113..0x11e, 0x211) carry the text of later releases; codes without text give
//! "Unknown error code", as stock.

use std::os::raw::c_char;

use crate::types::*;

const UNKNOWN: &std::ffi::CStr = c"Unknown error code";

/// Codes whose text comes from releases newer than Debian's 4.21.
pub const NEWER_THAN_4_21: &[MError] = &[
    ME_REG_ACCESS_NOT_SUPPORTED_BY_SECONDARY,
    ME_REG_ACCESS_INSUFFICIENT_PERMISSIONS,
    ME_REG_ACCESS_NOT_READY,
    ME_REG_ACCESS_BAD_QP_STATE,
    ME_REG_ACCESS_BAD_PKT,
    ME_REG_ACCESS_BAD_SIZE_OUTS_CQES,
    ME_REG_ACCESS_BAD_SYS_STATE,
    ME_REG_ACCESS_EXCEED_LIM,
    ME_REG_ACCESS_BAD_RES_STATE,
    ME_REG_ACCESS_BAD_INDEX,
    ME_REG_ACCESS_BAD_INPUT_LEN,
    ME_REG_ACCESS_BAD_OUTPUT_LEN,
    ME_ICMD_UNABLE_TO_TAKE_SEMAOHORE,
];

/// The text of `code` (a static, NUL-terminated string).
pub fn err_text(code: MError) -> &'static std::ffi::CStr {
    match code {
        ME_OK => c"ME_OK",
        ME_ERROR => c"General error",
        ME_BAD_PARAMS => c"ME_BAD_PARAMS",
        ME_CR_ERROR => c"ME_CR_ERROR",
        ME_NOT_IMPLEMENTED => c"ME_NOT_IMPLEMENTED",
        ME_SEM_LOCKED => c"Semaphore locked",
        ME_MEM_ERROR => c"ME_MEM_ERROR",
        ME_MAD_SEND_FAILED => c"ME_MAD_SEND_FAILED",
        ME_UNKOWN_ACCESS_TYPE => c"ME_UNKOWN_ACCESS_TYPE",
        ME_UNSUPPORTED_DEVICE => c"ME_UNSUPPORTED_DEVICE",
        ME_UNSUPPORTED_OPERATION => c"ME_UNSUPPORTED_OPERATION",
        ME_UNSUPPORTED_ACCESS_TYPE => c"ME_UNSUPPORTED_ACCESS_TYPE",
        ME_GMP_MAD_UNSUPPORTED_OPERATION => {
            c"Sending GMP MAD supports only Get() method, and you are trying to send Set() method\nto a register which is not small enough to send with SMP MAD."
        }
        ME_REG_ACCESS_BAD_STATUS_ERR => c"ME_REG_ACCESS_BAD_STATUS_ERR",
        ME_REG_ACCESS_BAD_METHOD => c"Bad method",
        ME_REG_ACCESS_NOT_SUPPORTED => c"The Register access is not supported by the device",
        ME_REG_ACCESS_DEV_BUSY => c"Device is busy",
        ME_REG_ACCESS_VER_NOT_SUPP => c"Version not supported",
        ME_REG_ACCESS_UNKNOWN_TLV => c"Unknown TLV",
        ME_REG_ACCESS_REG_NOT_SUPP => c"Register not supported",
        ME_REG_ACCESS_CLASS_NOT_SUPP => c"Class not supported",
        ME_REG_ACCESS_METHOD_NOT_SUPP => c"Method not supported",
        ME_REG_ACCESS_BAD_PARAM => c"Bad parameter",
        ME_REG_ACCESS_RES_NOT_AVLBL => c"Resource unavailable",
        ME_REG_ACCESS_MSG_RECPT_ACK => c"Message receipt ack",
        ME_REG_ACCESS_UNKNOWN_ERR => c"Unknown register error",
        ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT => c"Register is too large",
        ME_REG_ACCESS_CONF_CORRUPT => c"Config Section Corrupted",
        ME_REG_ACCESS_LEN_TOO_SMALL => c"The given Register length is too small for the Tlv",
        ME_REG_ACCESS_BAD_CONFIG => c"The configuration is rejected",
        ME_REG_ACCESS_ERASE_EXCEEDED => c"The erase count exceeds its limit",
        ME_REG_ACCESS_INTERNAL_ERROR => c"Firmware internal error",
        ME_REG_ACCESS_NOT_SUPPORTED_BY_SECONDARY => c"Register Access not supported by secondary",
        ME_REG_ACCESS_INSUFFICIENT_PERMISSIONS => {
            c"Unable to send PRM Register due to permission issue, debug token might be needed."
        }
        ME_REG_ACCESS_NOT_READY => c"Register access not ready",
        ME_REG_ACCESS_BAD_QP_STATE => c"Register access bad QP state",
        ME_REG_ACCESS_BAD_PKT => c"Register access bad packet",
        ME_REG_ACCESS_BAD_SIZE_OUTS_CQES => c"Register access bad size outs CQES",
        ME_REG_ACCESS_BAD_SYS_STATE => c"Register access bad system state",
        ME_REG_ACCESS_EXCEED_LIM => c"Register access exceed limit",
        ME_REG_ACCESS_BAD_RES_STATE => c"Register access bad resource state",
        ME_REG_ACCESS_BAD_INDEX => c"Register access bad index",
        ME_REG_ACCESS_BAD_INPUT_LEN => c"Register access bad input length",
        ME_REG_ACCESS_BAD_OUTPUT_LEN => c"Register access bad output length",
        ME_ICMD_STATUS_CR_FAIL => c"ME_ICMD_STATUS_CR_FAIL",
        ME_ICMD_INVALID_OPCODE => c"ME_ICMD_INVALID_OPCODE",
        ME_ICMD_INVALID_CMD => c"ME_ICMD_INVALID_CMD",
        ME_ICMD_OPERATIONAL_ERROR => c"ME_ICMD_OPERATIONAL_ERROR",
        ME_ICMD_BAD_PARAM => c"ME_ICMD_BAD_PARAM",
        ME_ICMD_BUSY => c"ME_ICMD_BUSY",
        ME_ICMD_NOT_SUPPORTED => c"ME_REG_ACCESS_ICMD_NOT_SUPPORTED",
        ME_ICMD_STATUS_SEMAPHORE_TO => c"ME_ICMD_STATUS_SEMAPHORE_TO",
        ME_ICMD_STATUS_EXECUTE_TO => c"ME_ICMD_STATUS_EXECUTE_TO",
        ME_ICMD_STATUS_IFC_BUSY => c"ME_ICMD_STATUS_IFC_BUSY",
        ME_ICMD_STATUS_ICMD_NOT_READY => c"ME_ICMD_STATUS_ICMD_NOT_READY",
        ME_ICMD_UNSUPPORTED_ICMD_VERSION => c"ME_ICMD_UNSUPPORTED_ICMD_VERSION",
        ME_ICMD_UNKNOWN_STATUS => c"ME_ICMD_UNKNOWN_STATUS",
        ME_ICMD_ICM_NOT_AVAIL => c"ME_ICMD_ICM_NOT_AVAIL",
        ME_ICMD_WRITE_PROTECT => c"ME_ICMD_WRITE_PROTECT",
        ME_ICMD_SIZE_EXCEEDS_LIMIT => c"ME_ICMD_SIZE_EXCEEDS_LIMIT",
        ME_ICMD_UNABLE_TO_TAKE_SEMAOHORE => {
            c"Failed to take ICMD semaphore (semaphore 62). Semaphore was free (0) but HW failed to set it to locked state when we took it.\nThis might indicate a FW or HW issue.\n"
        }
        ME_CMDIF_BUSY => c"Tools HCR busy",
        ME_CMDIF_TOUT => c"Tools HCR time out.",
        ME_CMDIF_BAD_OP => c"Operation not supported",
        ME_CMDIF_NOT_SUPP => c"Tools HCR not supported",
        ME_CMDIF_BAD_SYS => {
            c"bad system status (driver may be down or Fw does not support this operation)"
        }
        ME_CMDIF_UNKN_TLV => c"Unknown TLV",
        ME_CMDIF_RES_STATE => c"Bad reset state",
        ME_CMDIF_UNKN_STATUS => c"Unknown status",
        ME_MAD_BUSY => c"Temporarily busy. MAD discarded. This is not an error",
        ME_MAD_REDIRECT => c"Redirection. This is not an error",
        ME_MAD_BAD_VER => c"Bad version",
        ME_MAD_METHOD_NOT_SUPP => c"Method not supported",
        ME_MAD_METHOD_ATTR_COMB_NOT_SUPP => c"Method and attribute combination isn't supported",
        ME_MAD_BAD_DATA => c"Bad attribute modifier or field",
        ME_MAD_GENERAL_ERR => c"Unknown MAD error",
        _ => UNKNOWN,
    }
}

/// `const char* m_err2str(MError status)`: static English text of an MError code.
#[no_mangle]
pub extern "C" fn m_err2str(status: MError) -> *const c_char {
    super::boundary::call("m_err2str", UNKNOWN.as_ptr(), || {
        Ok(err_text(status).as_ptr())
    })
}

/// `int return_by_reg_status(int reg_status)`: MError of a firmware register-access status.
#[no_mangle]
pub extern "C" fn return_by_reg_status(reg_status: std::os::raw::c_int) -> MError {
    super::boundary::call("return_by_reg_status", ME_REG_ACCESS_UNKNOWN_ERR, || {
        Ok(crate::reg_access::return_by_reg_status(reg_status))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    const STOCK: &CStr = c"/usr/lib/x86_64-linux-gnu/mstflint/python_tools/cmtcr.so";

    /// Every code of every range, plus out-of-range values.
    fn all_codes() -> Vec<MError> {
        let mut v: Vec<MError> = (-2..0x20).collect();
        for base in [0x100, 0x200, 0x300, 0x400, 0x500] {
            v.extend(base..base + 0x21);
        }
        v.push(0x600);
        v.push(i32::MAX);
        v.push(i32::MIN);
        v
    }

    /// The number Debian's 4.21 uses for our (v4.36) code `c`, if it has one.
    fn stock_code(c: MError) -> Option<MError> {
        match c {
            ME_ADDRESS_OUT_OF_RANGE => None,
            9..=19 => Some(c - 1),
            _ => Some(c),
        }
    }

    #[test]
    fn same_texts_as_stock_cmtcr() {
        if std::path::Path::new(STOCK.to_str().unwrap()).exists() {
            // SAFETY: dlopen of a plain C shared object; m_err2str(int) -> const char*.
            unsafe {
                let h = libc::dlopen(STOCK.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
                assert!(!h.is_null(), "dlopen cmtcr.so failed");
                let f = libc::dlsym(h, c"m_err2str".as_ptr());
                assert!(!f.is_null(), "cmtcr.so has no m_err2str");
                let stock: extern "C" fn(i32) -> *const c_char = std::mem::transmute(f);
                let mut compared = 0;
                for c in all_codes() {
                    let ours = CStr::from_ptr(m_err2str(c));
                    if NEWER_THAN_4_21.contains(&c) {
                        assert_ne!(ours, UNKNOWN, "code {c:#x} has a text of its own");
                        continue;
                    }
                    let want = match stock_code(c) {
                        Some(s) => CStr::from_ptr(stock(s)).to_owned(),
                        None => UNKNOWN.to_owned(),
                    };
                    assert_eq!(ours, want.as_c_str(), "m_err2str({c:#x})");
                    compared += 1;
                }
                assert!(compared > 150);
                libc::dlclose(h);
            }
        } else if std::env::var("CI").as_deref() == Ok("true") {
            panic!("stock cmtcr.so not installed (mstflint package): cannot compare m_err2str");
        } else {
            eprintln!("SKIP: stock cmtcr.so not installed");
        }
    }

    #[test]
    fn reg_status_mapping() {
        assert_eq!(return_by_reg_status(1), ME_REG_ACCESS_DEV_BUSY);
        assert_eq!(return_by_reg_status(4), ME_REG_ACCESS_REG_NOT_SUPP);
        assert_eq!(
            return_by_reg_status(0xe),
            ME_REG_ACCESS_NOT_SUPPORTED_BY_SECONDARY
        );
        assert_eq!(return_by_reg_status(0x22), ME_REG_ACCESS_CONF_CORRUPT);
        assert_eq!(return_by_reg_status(0x70), ME_REG_ACCESS_INTERNAL_ERROR);
        assert_eq!(return_by_reg_status(0x55), ME_REG_ACCESS_UNKNOWN_ERR);
        // As stock: 0 is not a status this maps (callers test for 0 first).
        assert_eq!(return_by_reg_status(0), ME_REG_ACCESS_UNKNOWN_ERR);
    }
}
