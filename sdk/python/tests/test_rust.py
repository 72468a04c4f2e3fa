"""Rust number semantics: float formatting against vectors printed by rustc, casts, max."""

import json
import math
import struct
import unittest
from pathlib import Path

from autoscaler_sdk.rust import (
    U32_MAX,
    U64_MAX,
    as_u32,
    as_u64,
    ceil_u32,
    fmax,
    fmt_fixed,
    fsum_seq,
    saturating_sub,
    wrapping_add_u32,
)

VECTORS = json.loads((Path(__file__).parent / "data" / "rust-float-format.json").read_text())


def from_bits(hex_bits: str) -> float:
    return struct.unpack(">d", bytes.fromhex(hex_bits))[0]


class FormatTest(unittest.TestCase):
    def test_matches_rust_on_every_vector(self):
        self.assertGreater(len(VECTORS), 600)
        for v in VECTORS:
            x = from_bits(v["bits"])
            for digits in (0, 1, 2):
                with self.subTest(bits=v["bits"], x=x, digits=digits):
                    self.assertEqual(fmt_fixed(x, digits), v[f"p{digits}"])

    def test_ties_round_to_even(self):
        self.assertEqual(fmt_fixed(0.5, 0), "0")
        self.assertEqual(fmt_fixed(2.5, 0), "2")
        self.assertEqual(fmt_fixed(3.5, 0), "4")
        self.assertEqual(fmt_fixed(0.25, 1), "0.2")
        self.assertEqual(fmt_fixed(0.375, 2), "0.38")
        # 0.35 is 0.34999999999999997779... in binary: no tie, rounds down.
        self.assertEqual(fmt_fixed(0.35, 1), "0.3")

    def test_signs_and_specials(self):
        self.assertEqual(fmt_fixed(-0.0, 1), "-0.0")
        self.assertEqual(fmt_fixed(-0.4, 0), "-0")
        self.assertEqual(fmt_fixed(math.nan, 1), "NaN")
        self.assertEqual(fmt_fixed(math.inf, 0), "inf")
        self.assertEqual(fmt_fixed(-math.inf, 0), "-inf")


class CastTest(unittest.TestCase):
    def test_as_u32_saturates(self):
        self.assertEqual(as_u32(-1.0), 0)
        self.assertEqual(as_u32(0.5), 0)
        self.assertEqual(as_u32(4294967295.7), U32_MAX)
        self.assertEqual(as_u32(4294967296.0), U32_MAX)
        self.assertEqual(as_u32(math.nan), 0)
        self.assertEqual(as_u32(math.inf), U32_MAX)
        self.assertEqual(as_u32(-0.0), 0)
        self.assertEqual(as_u32(7.99), 7)

    def test_as_u64_saturates(self):
        self.assertEqual(as_u64(4294967296.0), 4294967296)
        self.assertEqual(as_u64(1e300), U64_MAX)
        self.assertEqual(as_u64(math.inf), U64_MAX)
        self.assertEqual(as_u64(math.nan), 0)
        self.assertEqual(as_u64(-5.0), 0)
        self.assertEqual(as_u64(600.9), 600)

    def test_ceil_u32(self):
        self.assertEqual(ceil_u32(2.0000001), 3)
        self.assertEqual(ceil_u32(2.0), 2)
        self.assertEqual(ceil_u32(-0.5), 0)
        self.assertEqual(ceil_u32(math.inf), U32_MAX)
        self.assertEqual(ceil_u32(math.nan), 0)
        self.assertEqual(ceil_u32(1e20), U32_MAX)

    def test_fmax_ignores_nan(self):
        self.assertEqual(fmax(math.nan, 0.0), 0.0)
        self.assertEqual(fmax(3.0, math.nan), 3.0)
        self.assertTrue(math.isnan(fmax(math.nan, math.nan)))
        self.assertEqual(fmax(2.0, 5.0), 5.0)

    def test_integer_ops(self):
        self.assertEqual(wrapping_add_u32(U32_MAX, 1), 0)
        self.assertEqual(wrapping_add_u32(3, 4), 7)
        self.assertEqual(saturating_sub(3, 5), 0)
        self.assertEqual(saturating_sub(5, 3), 2)

    def test_fsum_is_sequential(self):
        values = [1e16, 1.0, -1e16]
        self.assertEqual(fsum_seq(values), 0.0)  # ((1e16 + 1) - 1e16) in f64
        self.assertEqual(math.copysign(1.0, fsum_seq([])), -1.0)


if __name__ == "__main__":
    unittest.main()
