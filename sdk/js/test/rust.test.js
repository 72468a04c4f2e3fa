// Rust number semantics: float formatting against vectors printed by rustc, casts, max.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { U32_MAX, U64_MAX, asU32, asU64, ceilU32, fmax, fmtFixed, saturatingSub, wrappingAddU32 } from "../autoscaler.js";

const vectors = JSON.parse(readFileSync(new URL("./data/rust-float-format.json", import.meta.url), "utf8"));

function fromBits(hex) {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

test("fmtFixed matches Rust's {:.N} on every vector", () => {
  assert.ok(vectors.length > 600);
  for (const v of vectors) {
    const x = fromBits(v.bits);
    for (const digits of [0, 1, 2]) {
      assert.equal(fmtFixed(x, digits), v[`p${digits}`], `bits ${v.bits} (${x}) to ${digits} digits`);
    }
  }
});

test("fmtFixed rounds ties to even, unlike toFixed", () => {
  assert.equal(fmtFixed(0.5, 0), "0");
  assert.equal((0.5).toFixed(0), "1");
  assert.equal(fmtFixed(2.5, 0), "2");
  assert.equal(fmtFixed(3.5, 0), "4");
  assert.equal(fmtFixed(80.5, 0), "80");
  assert.equal(fmtFixed(0.25, 1), "0.2");
  assert.equal(fmtFixed(0.375, 2), "0.38");
  assert.equal(fmtFixed(0.35, 1), "0.3"); // 0.34999999999999997779... in binary
  assert.equal(fmtFixed(1e21, 0), "1000000000000000000000");
});

test("fmtFixed spells signs and specials as Rust does", () => {
  assert.equal(fmtFixed(-0, 1), "-0.0");
  assert.equal(fmtFixed(-0.4, 0), "-0");
  assert.equal(fmtFixed(NaN, 1), "NaN");
  assert.equal(fmtFixed(Infinity, 0), "inf");
  assert.equal(fmtFixed(-Infinity, 0), "-inf");
  assert.equal(fmtFixed(5e-324, 2), "0.00");
});

test("casts saturate like Rust's `as`", () => {
  assert.equal(asU32(-1), 0);
  assert.equal(asU32(0.5), 0);
  assert.equal(asU32(4294967295.7), U32_MAX);
  assert.equal(asU32(4294967296), U32_MAX);
  assert.equal(asU32(NaN), 0);
  assert.equal(asU32(Infinity), U32_MAX);
  assert.equal(asU32(7.99), 7);
  assert.equal(asU64(4294967296), 4294967296n);
  assert.equal(asU64(1e300), U64_MAX);
  assert.equal(asU64(NaN), 0n);
  assert.equal(asU64(-5), 0n);
  assert.equal(asU64(600.9), 600n);
  assert.equal(asU64(2 ** 60), 1152921504606846976n);
  assert.equal(ceilU32(2.0000001), 3);
  assert.equal(ceilU32(2), 2);
  assert.equal(ceilU32(-0.5), 0);
  assert.equal(ceilU32(Infinity), U32_MAX);
  assert.equal(ceilU32(NaN), 0);
});

test("fmax ignores NaN like f64::max", () => {
  assert.equal(fmax(NaN, 0), 0);
  assert.equal(fmax(3, NaN), 3);
  assert.ok(Number.isNaN(fmax(NaN, NaN)));
  assert.equal(fmax(2, 5), 5);
});

test("integer operations wrap and saturate like a release build", () => {
  assert.equal(wrappingAddU32(U32_MAX, 1), 0);
  assert.equal(wrappingAddU32(3, 4), 7);
  assert.equal(saturatingSub(3, 5), 0);
  assert.equal(saturatingSub(5, 3), 2);
  assert.equal(saturatingSub(3n, 5n), 0n);
});
