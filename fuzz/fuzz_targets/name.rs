#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mtcr_fuzz::targets::run("name", data));
