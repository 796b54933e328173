fn main() {
    // The shared library is installed as libmtcr_ul.so.1 (SONAME), like a classic C library.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmtcr_ul.so.1");
    println!("cargo:rerun-if-changed=build.rs");
}
