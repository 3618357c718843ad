// Embed the libtorch lib folder as an rpath so `target/*/atelier` runs without
// LD_LIBRARY_PATH, and force-link libtorch so its CUDA part (libtorch_cuda) is
// loaded: with --as-needed the linker would drop it and CUDA would look absent.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        if let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.to_string_lossy());
        }
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch");
    }
}
