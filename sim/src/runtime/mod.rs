//! Namespace, FUSE tree and ioctl server behind `mtcr-sim run`.
