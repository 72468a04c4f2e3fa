//! The adversarial test policies (`tests/policies/*`) built into WebAssembly
//! components: one constant per policy naming its `.wasm` file, and `ALL`.
//! For the host's tests, examples and benches only (a dev-dependency); the
//! shipped example policies are `autoscaler::artifacts`.

include!(concat!(env!("OUT_DIR"), "/adversarial_artifacts.rs"));
