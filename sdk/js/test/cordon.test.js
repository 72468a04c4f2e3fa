// Contract 0.2.0 in the JavaScript SDK: cordoned tasks, cordon decisions,
// declared parameters; the same answers as the Rust SDK's unit tests.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  cordonedTasks,
  effectiveDesired,
  exportPolicy,
  flagParam,
  fromWire,
  hold,
  isCordoned,
  isServing,
  leastLoadedTasks,
  numberParam,
  paramBool,
  paramF64,
  paramStr,
  scaleTo,
  servingCapacity,
  servingTasks,
  sessionsPerTask,
  textParam,
  withCordon,
  withUncordon,
} from "../autoscaler.js";
import { SnapshotBuilder, toWire } from "../testing.js";

const fiveTasks = () =>
  new SnapshotBuilder()
    .task((t) => t.sessions(5))
    .task((t) => t.sessions(2))
    .task((t) => t.sessions(7).cordoned(1_699_999_000))
    .task((t) => t.sessions(2))
    .task((t) => t.sessions(0).starting())
    .task((t) => t.sessions(9))
    .build();

test("cordon helpers answer as the Rust SDK's", () => {
  const s = fiveTasks();
  const c = s.tasks[2];
  assert.ok(isCordoned(c) && c.draining && !isServing(c));
  assert.equal(c.cordonedSince, 1_699_999_000);
  assert.deepEqual(leastLoadedTasks(s).map((t) => t.handle), [1, 3, 0, 5]);
  assert.deepEqual(servingTasks(s).map((t) => t.handle), [0, 1, 3, 5]);
  assert.deepEqual(cordonedTasks(s).map((t) => t.handle), [2]);
  assert.equal(servingCapacity(s, 8), 15);
  assert.equal(servingCapacity(s, 0), 0);
  assert.deepEqual(s.drains.map((d) => d.step), ["cordoned"]);
  assert.equal(effectiveDesired(s), 5);
  assert.equal(sessionsPerTask(s), 18 / 4);
});

test("the cordon crosses the wire in its column and mark", () => {
  const s = fiveTasks();
  const w = toWire(s);
  assert.equal(w.tasks.marks[2], 2 | 4);
  assert.deepEqual(w.tasks.cordonedSince, [0, 0, 1_699_999_000, 0, 0, 0]);
  assert.deepEqual(fromWire(w), s);
  w.tasks.cordonedSince[0] = 55;
  assert.equal(fromWire(w).tasks[0].cordonedSince, null, "the column counts only under the mark");
});

test("decision builders and the export's checks", () => {
  const d = withUncordon(withCordon(scaleTo(3, "consolidate"), [1, 2]), new Set([4]));
  assert.deepEqual([d.desired, d.cordon, d.uncordon], [3, [1, 2], [4]]);
  const h = hold("x");
  assert.deepEqual([h.drain, h.cordon, h.uncordon], [[], [], []]);
  const bad = exportPolicy(() => withCordon(hold("x"), [-1]), { name: "t", version: "1" });
  assert.throws(() => bad.decide(new SnapshotBuilder().build()), /decision.cordon must hold task handles/);
  const badU = exportPolicy(() => withUncordon(hold("x"), ["a"]), { name: "t", version: "1" });
  assert.throws(() => badU.decide(new SnapshotBuilder().build()), /decision.uncordon must hold task handles/);
});

test("declared parameters reach info and the builder fills their defaults", () => {
  const specs = [
    numberParam("buffer-slots", 10, { min: 0, max: 500, doc: "Free slots." }),
    flagParam("phases", false),
    textParam("mode", "fast", { doc: "How." }),
    numberParam("utc-offset", null, { min: -12 }),
  ];
  const info = exportPolicy(() => hold("x"), { name: "t", version: "1", params: specs }).info();
  assert.deepEqual(info.params[0], {
    name: "buffer-slots",
    kind: "number",
    default: { tag: "number", val: 10 },
    min: 0,
    max: 500,
    doc: "Free slots.",
  });
  assert.equal(info.params[3].default, undefined);
  const s = new SnapshotBuilder().param("buffer-slots", 25).declared(specs).build();
  assert.equal(paramF64(s, "buffer-slots"), 25);
  assert.equal(paramBool(s, "phases"), false);
  assert.equal(paramStr(s, "mode"), "fast");
  assert.equal(paramF64(s, "utc-offset"), null);
  assert.equal(s.params.length, 3);
});
