"""Rust's number semantics, for policies that must decide exactly like a Rust one.

The host compares decisions record by record, reasons included, so a port of
a Rust policy needs Rust's casts, `f64::max` and float formatting, not
Python's:

- `fmt_fixed(x, 1)` is Rust's `format!("{x:.1}")`: the exact binary value
  rounded half to even, `NaN`, `inf` and `-inf` spelled as Rust does, and the
  sign of a negative value that rounds to zero kept (`-0.0`).
- `as_u32(x)` / `as_u64(x)` are Rust's saturating `x as u32` / `x as u64`:
  truncate toward zero, NaN gives 0, out-of-range values clamp.
- `fmax(a, b)` is `f64::max`: a NaN argument loses to the other one.
- `wrapping_add_u32` is `u32 + u32` in a release build (it wraps).
"""

from __future__ import annotations

import math

U32_MAX = 0xFFFF_FFFF
U64_MAX = 0xFFFF_FFFF_FFFF_FFFF


def fmt_fixed(x: float, digits: int) -> str:
    """Rust's `{:.N}` for an f64: round half to even on the exact value."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    # Python's fixed formatting is correctly rounded, half to even, on the
    # exact binary value, and keeps the sign of -0.0: the same as Rust's.
    return format(x, f".{digits}f")


def as_u32(x: float) -> int:
    """Rust's `x as u32` for an f64 (saturating, NaN to 0)."""
    if math.isnan(x) or x <= 0.0:
        return 0
    if x >= 4294967296.0:
        return U32_MAX
    return int(x)


def as_u64(x: float) -> int:
    """Rust's `x as u64` for an f64 (saturating, NaN to 0)."""
    if math.isnan(x) or x <= 0.0:
        return 0
    if x >= 18446744073709551616.0:
        return U64_MAX
    return int(x)


def ceil_u32(x: float) -> int:
    """Rust's `x.ceil() as u32`."""
    if math.isnan(x) or math.isinf(x):
        return as_u32(x)
    return as_u32(float(math.ceil(x)))


def fmax(a: float, b: float) -> float:
    """Rust's `f64::max`: the larger one; a NaN argument gives the other."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return a if a >= b else b


def fmin(a: float, b: float) -> float:
    """Rust's `f64::min`: the smaller one; a NaN argument gives the other."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return a if a <= b else b


def wrapping_add_u32(a: int, b: int) -> int:
    """`a + b` on u32 as a release build computes it (wrapping)."""
    return (a + b) & U32_MAX


def saturating_sub(a: int, b: int) -> int:
    """Rust's `a.saturating_sub(b)` on unsigned integers."""
    return a - b if a > b else 0


def fsum_seq(values) -> float:
    """Rust's `iter.sum::<f64>()`: plain left-to-right addition.

    Python's `sum()` of floats compensates rounding errors since 3.12, so it
    can differ from Rust in the last bit; use this instead. Like Rust's, it
    starts from -0.0, so an empty sum is -0.0.
    """
    total = -0.0
    for v in values:
        total += v
    return total
