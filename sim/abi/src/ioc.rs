//! Linux ioctl number encoding (`_IOC`, x86_64 / asm-generic layout): direction in bits
//! 31:30, argument size 29:16, type (magic) 15:8, number 7:0.

pub const IOC_NONE: u32 = 0;
pub const IOC_WRITE: u32 = 1;
pub const IOC_READ: u32 = 2;

/// `_IOC(dir, type, nr, size)`.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: u32) -> u32 {
    (dir << 30) | ((size & 0x3fff) << 16) | ((ty & 0xff) << 8) | (nr & 0xff)
}
/// `_IOC(_IOC_NONE, ...)` with an explicit size (the drivers' `_IO` numbers carry none, but
/// some ABIs declare sizes on `_IOC_NONE` numbers).
pub const fn io(ty: u32, nr: u32, size: u32) -> u32 {
    ioc(IOC_NONE, ty, nr, size)
}
/// `_IOR(type, nr, size)`.
pub const fn ior(ty: u32, nr: u32, size: u32) -> u32 {
    ioc(IOC_READ, ty, nr, size)
}
/// `_IOW(type, nr, size)`.
pub const fn iow(ty: u32, nr: u32, size: u32) -> u32 {
    ioc(IOC_WRITE, ty, nr, size)
}
/// `_IOWR(type, nr, size)`.
pub const fn iowr(ty: u32, nr: u32, size: u32) -> u32 {
    ioc(IOC_READ | IOC_WRITE, ty, nr, size)
}
/// `_IOC_SIZE(request)`: the argument size the preload copies.
pub const fn ioc_size(request: u32) -> usize {
    ((request >> 16) & 0x3fff) as usize
}
/// `_IOC_DIR(request)`.
pub const fn ioc_dir(request: u32) -> u32 {
    request >> 30
}
/// Largest argument an ioctl number can describe (`_IOC_SIZE` has 14 bits).
pub const MAX_IOC_SIZE: usize = 1 << 14;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(iowr(0xd2, 3, 20), 0xC014D203);
        assert_eq!(ior(0xd1, 1, 12), 0x800CD101);
        assert_eq!(ioc_size(0x810CD203), 268);
        assert_eq!(ioc_dir(0x400CD102), IOC_WRITE);
        assert_eq!(ioc_size(u32::MAX), MAX_IOC_SIZE - 1);
    }
}
