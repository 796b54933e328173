//! Kernel-driver ioctl ABIs served on the simulated nodes (see drivers brief).
