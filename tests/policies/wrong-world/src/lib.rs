//! A component of an unrelated world: the host must refuse it, naming what it expected and found.
#![allow(missing_docs, unsafe_code)]
wit_bindgen::generate!({ path: "wit", world: "calculator" });

struct Calc;
impl Guest for Calc {
    fn add(a: u32, b: u32) -> u32 {
        a + b
    }
}
export!(Calc);
