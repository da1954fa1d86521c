// Emits the linker flags a Node-API addon needs (undefined napi_* symbols resolved by the host
// process at load time), so a plain `cargo build` produces a loadable .node without the napi CLI.
fn main() {
    napi_build::setup();
}
