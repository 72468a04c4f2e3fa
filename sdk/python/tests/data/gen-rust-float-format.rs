// Generates rust-float-format.json: Rust's `{:.0}`, `{:.1}` and `{:.2}` of f64
// values (exact ties, near ties, negative zero, NaN, infinities, huge and tiny
// values), which the Python and JavaScript SDK tests check their formatting
// against. Regenerate with:
//   rustc -O gen-rust-float-format.rs -o /tmp/gen && /tmp/gen > rust-float-format.json
fn main() {
    let mut vals: Vec<f64> = vec![0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 0.25, 0.35, 0.125, 0.375, 0.625, 2.675, 1.005,
        1.05, 1.15, 1.25, 1.35, -0.0, 0.0, -0.04, -0.4, -0.6, 75.0, 16.0, 30.0, 99.95, 99.94999999999999, 1e21, 1e22,
        123456789.5, 0.05, 0.15, 1234.5678, 4503599627370495.5, 9007199254740993.0, 1.7976931348623157e308,
        5e-324, 2.2250738585072014e-308, 0.049999999999999996, 0.95, 9.5, 10.5, 11.5, 1e-7, 16.000000000000004,
        f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -f64::NAN, 1e15 + 0.5, 1e16, 12.345, 95.05, 80.00000000000001];
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let mut next = || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x };
    for i in 0..600 {
        let r = next();
        let v = match i % 4 {
            // percent-like values with 1..3 decimals: many near-ties
            0 => ((r % 100_000) as f64) / 1000.0,
            1 => ((r % 20_000) as f64) / 100.0 - 50.0,
            // halves and quarters: exact ties
            2 => ((r % 4000) as f64) / 8.0 - 100.0,
            // arbitrary bit patterns of finite doubles
            _ => { let exp = 1023 - 40 + (r >> 52) % 100; f64::from_bits((r & 0x800F_FFFF_FFFF_FFFF) | (exp << 52)) }
        };
        vals.push(v);
    }
    println!("[");
    for (i, v) in vals.iter().enumerate() {
        let sep = if i + 1 == vals.len() { "" } else { "," };
        println!("  {{\"bits\": \"{:016x}\", \"p0\": \"{:.0}\", \"p1\": \"{:.1}\", \"p2\": \"{:.2}\"}}{}", v.to_bits(), v, v, v, sep);
    }
    println!("]");
}
