//! Firmware reset and activation: MFRL (0x9028) as mstfwreset uses it, and the PCI event that
//! makes the firmware reboot from flash. Documented in `sim/FIRMWARE.md` ("Reset and
//! activation").
//!
//! MFRL dword 1 (the register is 8 bytes, dword 0 reserved): reset_trigger 7:0 (GET: the
//! triggers the firmware supports now; SET: the one to arm), reset_type 15:8 (RO: supported
//! chip reset types), reset_state 19:16, pci_reset_req_method 23:21, rst_type_sel 26:24,
//! pci_sync_for_fw_update_resp 28:27, pci_sync_for_fw_update_start 30:29,
//! pci_rescan_required 31.

use std::time::Instant;

use super::registers::{ST_BAD_PARAM, ST_OK};

/// reset_trigger bits (mstfwreset's reset levels 0, 1, 3, 4 send 0x1, 0x2, 0x8, 0x48).
pub(crate) const TRIGGER_LIVE_PATCH: u32 = 0x1;
pub(crate) const TRIGGER_PCI_LINK: u32 = 0x8;
pub(crate) const TRIGGER_PERST: u32 = 0x40;
/// reset_type bit 0: full chip reset (the only type of a ConnectX-5 without an ARM side).
pub(crate) const TYPE_FULL_CHIP: u32 = 0x1;
/// reset_state values.
pub(crate) const STATE_IDLE: u32 = 0;
pub(crate) const STATE_WAITING_FOR_TRIGGER: u32 = 8;

/// A reset armed by MFRL SET, waiting for its PCI event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Armed {
    pub trigger: u32,
    pub sync: u32,
    pub method: u32,
}

#[derive(Debug)]
pub(crate) struct ResetState {
    /// When the running firmware booted (MGIR `uptime` counts from here).
    pub booted_at: Instant,
    pub armed: Option<Armed>,
    /// Firmware boots since the simulator started (the first one included).
    pub boots: u32,
}

impl ResetState {
    pub fn new() -> ResetState {
        ResetState {
            booted_at: Instant::now(),
            armed: None,
            boots: 0,
        }
    }

    /// Seconds since the last boot (MGIR hw_info.uptime).
    pub fn uptime(&self) -> u32 {
        u32::try_from(self.booted_at.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// MFRL GET: dword 1. `pending`: the next boot would load other firmware than runs, so
    /// a live patch cannot activate it.
    pub fn mfrl_get(&self, pending: bool) -> u32 {
        let mut triggers = TRIGGER_PCI_LINK | TRIGGER_PERST;
        if !pending {
            triggers |= TRIGGER_LIVE_PATCH;
        }
        let mut d1 = TYPE_FULL_CHIP << 8 | triggers;
        match self.armed {
            // Armed for a PCI link toggle: waiting for the host's trigger.
            Some(a) if a.trigger & TRIGGER_PCI_LINK != 0 => {
                d1 |= STATE_WAITING_FOR_TRIGGER << 16 | (a.method & 7) << 21 | (a.sync & 3) << 29;
            }
            // Idle, or a warm-boot request (mstflint's failsafe burn sends PERST alone).
            _ => d1 |= STATE_IDLE << 16,
        }
        d1
    }

    /// MFRL SET. Live patch (nothing pending: nothing to patch) answers at once; a PCI link
    /// toggle or PERST trigger is armed until [`Self::take_on_pci_reset`]. Refused
    /// (BAD_PARAM): no trigger, unsupported trigger bits, a reset type other than full chip,
    /// the hot-reset method or synchronisations other than by the tool (0) or driver (1),
    /// and live patch while other firmware is pending.
    pub fn mfrl_set(&mut self, d1: u32, pending: bool) -> u32 {
        let trigger = d1 & 0xff;
        let method = d1 >> 21 & 7;
        let type_sel = d1 >> 24 & 7;
        let sync = d1 >> 29 & 3;
        let supported = TRIGGER_LIVE_PATCH | TRIGGER_PCI_LINK | TRIGGER_PERST;
        if trigger == 0 || trigger & !supported != 0 || type_sel != 0 || method != 0 || sync > 1 {
            return ST_BAD_PARAM;
        }
        if trigger == TRIGGER_LIVE_PATCH {
            return if pending { ST_BAD_PARAM } else { ST_OK };
        }
        if trigger & TRIGGER_LIVE_PATCH != 0 {
            return ST_BAD_PARAM;
        }
        self.armed = Some(Armed {
            trigger,
            sync,
            method,
        });
        ST_OK
    }

    /// A PCI link toggle (`perst` false: link disabled and re-enabled, hot reset) or a PERST
    /// (warm reboot, `perst` true) reached the device: true when the armed reset fires (the
    /// caller then reboots the firmware), which disarms it. A PERST-only request (the warm
    /// boot mstflint asks for after a failsafe burn) waits for a PERST.
    pub fn take_on_pci_reset(&mut self, perst: bool) -> bool {
        let fires = self.armed.is_some_and(|a| {
            a.trigger & TRIGGER_PCI_LINK != 0 || (perst && a.trigger & TRIGGER_PERST != 0)
        });
        if fires {
            self.armed = None;
        }
        fires
    }

    /// Record a boot.
    pub fn booted(&mut self) {
        self.booted_at = Instant::now();
        self.armed = None;
        self.boots += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfrl_get_reports_levels_by_pending_state() {
        let r = ResetState::new();
        // Nothing pending: live patch, PCI link toggle, PERST; full chip; idle.
        assert_eq!(r.mfrl_get(false), 0x0000_0149);
        // An image pending: no live patch.
        assert_eq!(r.mfrl_get(true), 0x0000_0148);
    }

    #[test]
    fn mfrl_set_arms_and_pci_reset_fires_once() {
        let mut r = ResetState::new();
        assert!(
            !r.take_on_pci_reset(true),
            "nothing armed: a PERST does nothing"
        );
        // mstflint's failsafe burn: warm boot (PERST) only; a link toggle does not fire it.
        assert_eq!(r.mfrl_set(TRIGGER_PERST, true), ST_OK);
        assert_eq!(r.mfrl_get(true) >> 16 & 0xf, STATE_IDLE);
        assert!(!r.take_on_pci_reset(false));
        // mstfwreset level 3: a link toggle fires it.
        assert_eq!(r.mfrl_set(TRIGGER_PCI_LINK, true), ST_OK);
        assert_eq!(r.mfrl_get(true) >> 16 & 0xf, STATE_WAITING_FOR_TRIGGER);
        assert!(r.take_on_pci_reset(false));
        assert!(!r.take_on_pci_reset(true));
        assert_eq!(r.mfrl_set(TRIGGER_PERST, true), ST_OK);
        assert!(
            r.take_on_pci_reset(true),
            "PERST fires the warm-boot request"
        );
        assert_eq!(r.mfrl_get(true) >> 16 & 0xf, STATE_IDLE);
        // Warm reboot sends PERST | PCI link.
        assert_eq!(r.mfrl_set(TRIGGER_PERST | TRIGGER_PCI_LINK, false), ST_OK);
        r.booted();
        assert!(r.armed.is_none());
        assert_eq!(r.boots, 1);
    }

    #[test]
    fn mfrl_set_refusals() {
        let mut r = ResetState::new();
        assert_eq!(r.mfrl_set(0, false), ST_BAD_PARAM);
        assert_eq!(
            r.mfrl_set(0x2, false),
            ST_BAD_PARAM,
            "immediate reset: no ARM"
        );
        assert_eq!(r.mfrl_set(0x8 | 1 << 24, false), ST_BAD_PARAM, "phy-less");
        assert_eq!(r.mfrl_set(0x8 | 1 << 21, false), ST_BAD_PARAM, "hot reset");
        assert_eq!(r.mfrl_set(0x8 | 2 << 29, false), ST_BAD_PARAM, "sync 2");
        assert_eq!(r.mfrl_set(TRIGGER_LIVE_PATCH, true), ST_BAD_PARAM);
        assert_eq!(r.mfrl_set(TRIGGER_LIVE_PATCH, false), ST_OK);
        assert!(r.armed.is_none(), "a live patch arms nothing");
        assert_eq!(r.mfrl_set(0x8 | 1 << 29, false), ST_OK, "driver sync");
    }
}
