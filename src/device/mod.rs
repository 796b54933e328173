//! Device names and enumeration.

/// PCI domain:bus:device.function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Bdf {
    pub domain: u16,
    pub bus: u8,
    pub dev: u8,
    pub func: u8,
}

/// What sysfs says about a function.
#[derive(Debug, Clone, Default)]
pub struct DeviceInfo {
    pub bdf: Bdf,
    pub vendor_id: u16,
    pub device_id: u16,
    pub class_id: u32,
    pub subsys_id: u16,
    pub subsys_vendor_id: u16,
    pub numa_node: String,
    pub ib_devs: Vec<String>,
    pub net_devs: Vec<String>,
    pub virtfns: Vec<Bdf>,
}
