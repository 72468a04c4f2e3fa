// The export glue: decisions are checked, and every failure becomes a policy fault with a message.
import assert from "node:assert/strict";
import { test } from "node:test";

import { PolicyError, exportPolicy, hold, scaleTo } from "../autoscaler.js";
import { SnapshotBuilder } from "../testing.js";

const exported = (decide) => exportPolicy(decide, { name: "t", version: "1.2.3" });
const snap = () => new SnapshotBuilder().runningTasks(2).build();

test("info and a good decision", () => {
  const p = exported((s) => scaleTo(s.desired + 1, "up", [0]));
  assert.deepEqual(p.info(), { name: "t", version: "1.2.3", params: [] });
  assert.deepEqual(p.decide(snap()), { desired: 3, drain: [0], cordon: [], uncordon: [], reason: "up" });
  assert.deepEqual(exported(() => hold("steady")).decide(snap()), { desired: null, drain: [], cordon: [], uncordon: [], reason: "steady" });
});

test("a PolicyError is thrown on as its message", () => {
  const p = exported(() => {
    throw new PolicyError("bad parameter x");
  });
  assert.throws(() => p.decide(snap()), (e) => e === "bad parameter x");
});

test("any other exception is a fault naming its type", () => {
  const p = exported((s) => s.nothing.here);
  assert.throws(() => p.decide(snap()), (e) => typeof e === "string" && e.startsWith("TypeError: "));
});

test("malformed decisions are refused", () => {
  const cases = [
    [() => undefined, /not a decision/],
    [() => scaleTo(2.5, "x"), /round it/],
    [() => scaleTo(-1, "x"), /desired/],
    [() => scaleTo(2 ** 32, "x"), /desired/],
    [() => scaleTo(NaN, "x"), /desired/],
    [() => scaleTo(1, "x", ["task-1"]), /drain/],
    [() => ({ desired: 1, drain: 3, reason: "x" }), /drain/],
    [() => scaleTo(1, undefined), /reason/],
  ];
  for (const [decide, pattern] of cases) {
    assert.throws(() => exported(decide).decide(snap()), (e) => typeof e === "string" && pattern.test(e), String(pattern));
  }
});
