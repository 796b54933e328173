//! `m_err2str`: the text of an MError code.
//!
//! Texts and numbering are mstflint v4.36's (the release whose ABI this library pins), checked
//! code by code against the reference library by the test below when the upstream fixture is
//! present. Codes without a text of their own (ME_TIMEOUT, ME_ADDRESS_OUT_OF_RANGE, the PCI
//! and gearbox codes, ME_CMDIF_BAD_STATUS, ...) give "Unknown error code", as upstream.

use std::os::raw::c_char;

use crate::defs::*;

const UNKNOWN: &std::ffi::CStr = c"Unknown error code";

/// The text of `code` (a static, NUL-terminated string).
pub fn err_text(code: MError) -> &'static std::ffi::CStr {
    match code {
        // General codes.
        ME_OK => c"Success",
        ME_ERROR => c"General error",
        ME_BAD_PARAMS => c"Bad Parameter error",
        ME_CR_ERROR => c"CRSpace access error",
        ME_NOT_IMPLEMENTED => c"Interface not implemented",
        ME_SEM_LOCKED => c"Semaphore locked",
        ME_MEM_ERROR => c"Memory error",
        ME_MAD_SEND_FAILED => c"Failed to send MAD",
        ME_UNKOWN_ACCESS_TYPE => c"Unknown access type",
        ME_UNSUPPORTED_DEVICE => c"Unsupported device",
        ME_UNSUPPORTED_OPERATION => c"Operation not supported",
        ME_UNSUPPORTED_ACCESS_TYPE => c"Unsupported access type",
        ME_GMP_MAD_UNSUPPORTED_OPERATION => {
            c"Sending GMP MAD supports only Get() method, and you are trying to send Set() method\nto a register which is not small enough to send with SMP MAD."
        }
        // Register access.
        ME_REG_ACCESS_BAD_STATUS_ERR => c"Register access bad status error",
        ME_REG_ACCESS_BAD_METHOD => c"Bad Reg Access method",
        ME_REG_ACCESS_NOT_SUPPORTED => c"Register access is not supported by the device",
        ME_REG_ACCESS_DEV_BUSY => c"Register access failed, device is busy",
        ME_REG_ACCESS_VER_NOT_SUPP => c"Register access Version not supported",
        ME_REG_ACCESS_UNKNOWN_TLV => c"Register access Unknown TLV",
        ME_REG_ACCESS_REG_NOT_SUPP => c"Register not supported",
        ME_REG_ACCESS_CLASS_NOT_SUPP => c"Register access class not supported",
        ME_REG_ACCESS_METHOD_NOT_SUPP => c"Register access Method not supported",
        ME_REG_ACCESS_BAD_PARAM => c"Register access bad parameter",
        ME_REG_ACCESS_RES_NOT_AVLBL => c"Register access resource unavailable",
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
        // ICMD; firmware statuses 1..5 name their number.
        ME_ICMD_STATUS_CR_FAIL => c"ICMD failed due to CRSpace access failure",
        ME_ICMD_INVALID_OPCODE => {
            c"ICMD error 0x1: Invalid ICMD opcode used, Please check icmd.ctrl.status field"
        }
        ME_ICMD_INVALID_CMD => {
            c"ICMD error 0x2: Invalid ICMD command used, Please check icmd.ctrl.status field"
        }
        ME_ICMD_OPERATIONAL_ERROR => {
            c"ICMD error 0x3: ICMD operational error, Please check icmd.ctrl.status field"
        }
        ME_ICMD_BAD_PARAM => {
            c"ICMD error 0x4: ICMD bad parameter given, Please check icmd.ctrl.status field"
        }
        ME_ICMD_BUSY => c"ICMD error 0x5: ICMD busy, Please check icmd.ctrl.status field",
        ME_ICMD_NOT_SUPPORTED => c"ICMD interface is not supported for this device",
        ME_ICMD_STATUS_SEMAPHORE_TO => c"Timed out trying to take the ICMD semaphore",
        ME_ICMD_STATUS_EXECUTE_TO => c"Timed out polling on the ICMD busy-bit to clear",
        ME_ICMD_STATUS_IFC_BUSY => {
            c"ICMD interface busy with prior request, please wait for it to complete and try again"
        }
        ME_ICMD_STATUS_ICMD_NOT_READY => {
            c"ICMD interface not ready, please check static_config_not_done bit"
        }
        ME_ICMD_UNSUPPORTED_ICMD_VERSION => {
            c"Current ICMD version is not supported, Please check icmd_version field"
        }
        ME_ICMD_UNKNOWN_STATUS => c"ICMD unknown status",
        ME_ICMD_ICM_NOT_AVAIL => c"ICMD ICM not available",
        ME_ICMD_WRITE_PROTECT => c"ICMD write protect",
        ME_ICMD_SIZE_EXCEEDS_LIMIT => c"ICMD size exceeds limit",
        ME_ICMD_UNABLE_TO_TAKE_SEMAOHORE => {
            c"Failed to take ICMD semaphore (semaphore 62). Semaphore was free (0) but HW failed to set it to locked state when we took it.\nThis might indicate a FW or HW issue.\n"
        }
        // Tools HCR.
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
        // MAD status.
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
        Ok(crate::proto::reg_access::return_by_reg_status(reg_status))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::{CStr, CString};

    /// Every code of every range, plus out-of-range values.
    fn all_codes() -> Vec<MError> {
        let mut v: Vec<MError> = (-2..=0x520).collect();
        v.extend([0x600, 0x1000, i32::MAX, i32::MIN]);
        v
    }

    fn text(c: MError) -> &'static str {
        // SAFETY: m_err2str returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(m_err2str(c)) }.to_str().unwrap()
    }

    #[test]
    fn v4_36_texts() {
        // Where Debian's 4.21 differs (enum names, shorter texts, the 4.21 numbering).
        assert_eq!(text(ME_OK), "Success");
        assert_eq!(text(ME_BAD_PARAMS), "Bad Parameter error");
        assert_eq!(text(ME_CR_ERROR), "CRSpace access error");
        assert_eq!(
            text(ME_REG_ACCESS_BAD_PARAM),
            "Register access bad parameter"
        );
        assert_eq!(
            text(ME_REG_ACCESS_DEV_BUSY),
            "Register access failed, device is busy"
        );
        assert_eq!(text(ME_ICMD_SIZE_EXCEEDS_LIMIT), "ICMD size exceeds limit");
        assert_eq!(
            text(ME_ICMD_NOT_SUPPORTED),
            "ICMD interface is not supported for this device"
        );
        // v4.36 numbers: 8 is ME_ADDRESS_OUT_OF_RANGE (no text), 9 ME_MAD_SEND_FAILED.
        assert_eq!(text(ME_ADDRESS_OUT_OF_RANGE), "Unknown error code");
        assert_eq!(text(ME_MAD_SEND_FAILED), "Failed to send MAD");
        assert_eq!(text(ME_UNSUPPORTED_OPERATION), "Operation not supported");
        for c in [
            ME_TIMEOUT,
            ME_ICMD_INIT_FAILED,
            ME_CMDIF_BAD_STATUS,
            ME_GB_ICMD_OK,
            -1,
        ] {
            assert_eq!(text(c), "Unknown error code", "code {c:#x}");
        }
    }

    /// Upstream v4.36's own library: `MTCR_UPSTREAM_LIB`, else the fixture at `../shared`.
    fn upstream_lib() -> Option<CString> {
        let p = std::env::var("MTCR_UPSTREAM_LIB").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/upstream-4.36/lib-upstream/libmtcr_ul.so.1"
            )
            .to_string()
        });
        std::path::Path::new(&p)
            .exists()
            .then(|| CString::new(p).unwrap())
    }

    #[test]
    fn same_texts_as_upstream_library() {
        let Some(lib) = upstream_lib() else {
            eprintln!("SKIP: upstream v4.36 libmtcr_ul.so.1 not found (MTCR_UPSTREAM_LIB)");
            return;
        };
        // SAFETY: dlopen of a plain C shared object (libc only); m_err2str(int) -> const
        // char* returns static strings.
        unsafe {
            let h = libc::dlopen(lib.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
            assert!(!h.is_null(), "dlopen {lib:?} failed");
            let f = libc::dlsym(h, c"m_err2str".as_ptr());
            assert!(!f.is_null(), "{lib:?} has no m_err2str");
            let upstream: extern "C" fn(i32) -> *const c_char = std::mem::transmute(f);
            let codes = all_codes();
            for &c in &codes {
                let want = CStr::from_ptr(upstream(c));
                assert_eq!(CStr::from_ptr(m_err2str(c)), want, "m_err2str({c:#x})");
            }
            assert!(codes.len() > 1300);
            libc::dlclose(h);
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
