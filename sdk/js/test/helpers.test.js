// The helpers, with the Rust SDK's own tests (sdk/src/helpers.rs) ported one for one.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  cpuBelowFor,
  cpuTrend,
  cpuWindow,
  effectiveDesired,
  hold,
  idleTasks,
  memoryWindow,
  paramBool,
  paramF64,
  paramStr,
  scaleTo,
  servingTasks,
  sessionsPerTask,
  taskId,
  totalSessions,
  trend,
  utilization,
  withDrain,
} from "../autoscaler.js";
import { SnapshotBuilder } from "../testing.js";

test("rust: idle tasks skip busy, draining and starting tasks", () => {
  const s = new SnapshotBuilder()
    .task((t) => t.sessions(2))
    .task((t) => t.sessions(0).ageSeconds(500))
    .task((t) => t.sessions(0).ageSeconds(100))
    .task((t) => t.sessions(0).draining())
    .task((t) => t.sessions(0).starting())
    .build();
  assert.deepEqual(idleTasks(s).map((t) => t.handle), [s.tasks[2].handle, s.tasks[1].handle]);
  assert.equal(totalSessions(s), 2);
  assert.equal(sessionsPerTask(s), 2 / 3);
});

test("rust: trend fits a line through history", () => {
  const s = new SnapshotBuilder().now(600).historyCpu([[0, 10], [60, 20], [120, 30]]).cpu(40).build();
  // Only the last three minutes (from t=420) count: none of history, so one sample.
  assert.equal(cpuTrend(s, 180), null);
  const t = cpuTrend(s, 600);
  assert.equal(t.samples, 4);
  assert.ok(t.perMinute > 0);
});

test("rust: cpuBelowFor needs a covered window", () => {
  const quiet = new SnapshotBuilder().now(300).historyCpu([[0, 10], [120, 12], [240, 11]]).cpu(9).build();
  assert.equal(cpuBelowFor(quiet, 20, 300), true);
  assert.equal(cpuBelowFor(quiet, 20, 400), false, "history does not reach back 400 s");
  assert.equal(cpuBelowFor(quiet, 11.5, 300), false, "one sample is above 11.5");
});

test("rust: utilization is the higher of cpu and memory", () => {
  assert.equal(utilization(new SnapshotBuilder().cpu(30).memory(55).build()), 55);
  assert.equal(utilization(new SnapshotBuilder().noMetrics().build()), null);
});

test("idle tasks: the sort is stable", () => {
  const s = new SnapshotBuilder();
  for (const age of [100, 50, 100, 50, 100, 100, 50, 100, 100, 100, 100, 50]) s.task((t) => t.ageSeconds(age));
  assert.deepEqual(idleTasks(s.build()).map((t) => t.handle), [1, 3, 6, 11, 0, 2, 4, 5, 7, 8, 9, 10]);
});

test("serving tasks and the effective desired count", () => {
  const s = new SnapshotBuilder()
    .task((t) => t.sessions(1))
    .task((t) => t.draining())
    .task((t) => t.status("stopping"))
    .build();
  assert.deepEqual(servingTasks(s).map((t) => t.handle), [0]);
  assert.equal(s.desired, 3);
  assert.equal(effectiveDesired(s), 2);
  assert.equal(effectiveDesired(new SnapshotBuilder().desired(0).task((t) => t.draining()).build()), 0);
  assert.equal(sessionsPerTask(new SnapshotBuilder().task((t) => t.draining()).build()), null);
});

test("params take the first of a name, of the right kind", () => {
  const s = new SnapshotBuilder().param("a", 2).param("a", 3).param("b", true).param("c", "x").build();
  assert.deepEqual(s.params[0], { name: "a", value: { tag: "number", val: 2 } });
  assert.equal(paramF64(s, "a"), 2);
  assert.equal(paramBool(s, "b"), true);
  assert.equal(paramStr(s, "c"), "x");
  assert.equal(paramF64(s, "b"), null, "a flag is not a number");
  assert.equal(paramStr(s, "missing"), null);
  s.params.unshift({ name: "a", value: { tag: "text", val: "2" } });
  assert.equal(paramF64(s, "a"), null, "the first 'a' is text");
});

test("windows skip missing samples and include now", () => {
  const s = new SnapshotBuilder()
    .now(1000)
    .history({ at: 100, desired: 1, running: 1, cpu: 5, memory: 1, sessions: null })
    .history({ at: 500, desired: 1, running: 1, cpu: null, memory: 2, sessions: null })
    .history({ at: 900, desired: 1, running: 1, cpu: 7, memory: null, sessions: null })
    .cpu(8)
    .memory(3)
    .build();
  assert.deepEqual(cpuWindow(s, 600), [[900, 7], [1000, 8]]);
  assert.deepEqual(cpuWindow(s, 900), [[100, 5], [900, 7], [1000, 8]]);
  assert.deepEqual(memoryWindow(s, 5000), [[100, 1], [500, 2], [1000, 3]]);
  assert.deepEqual(cpuWindow(new SnapshotBuilder().now(10).noMetrics().build(), 60), []);
});

test("u64 fields may be bigints (jco's mapping)", () => {
  const s = new SnapshotBuilder().now(300n).historyCpu([[0n, 10], [120n, 12], [240n, 11]]).cpu(9).build();
  assert.equal(cpuBelowFor(s, 20, 300n), true);
  assert.equal(cpuBelowFor(s, 20, 400), false);
  assert.equal(cpuTrend(s, 300).samples, 4);
});

test("cpuBelowFor without history or cpu", () => {
  assert.equal(cpuBelowFor(new SnapshotBuilder().cpu(1).build(), 50, 0), false);
  const noCpu = new SnapshotBuilder().now(300).historyCpu([[0, 1]]).noMetrics().build();
  assert.equal(cpuBelowFor(noCpu, 50, 200), false, "the window holds no sample");
});

test("trend values", () => {
  assert.deepEqual(trend([[0, 10], [60, 20], [120, 30]]), { perMinute: 10, samples: 3 });
  assert.equal(trend([[5, 1], [5, 2]]), null, "no spread in time");
  assert.equal(trend([[5, 1]]), null);
});

test("decision constructors", () => {
  assert.deepEqual(hold("why"), { desired: null, drain: [], cordon: [], uncordon: [], reason: "why" });
  assert.deepEqual(scaleTo(3, "up"), { desired: 3, drain: [], cordon: [], uncordon: [], reason: "up" });
  assert.deepEqual(withDrain(scaleTo(1, "down"), new Set([4, 2])).drain, [4, 2]);
  assert.deepEqual(scaleTo(1, "x", [7]).drain, [7]);
});

test("task ids come from the builder", () => {
  const s = new SnapshotBuilder().task((t) => t.id("abc")).task().build();
  assert.equal(taskId(s.tasks[0].handle), "abc");
  assert.equal(taskId(1), "task-1");
  assert.equal(taskId(99), null);
});

test("builder counts", () => {
  const s = new SnapshotBuilder().runningTasks(2).task((t) => t.starting()).task((t) => t.draining()).historyCpu([[1, 2]]).build();
  assert.deepEqual([s.desired, s.running, s.pending], [4, 3, 1]);
  assert.deepEqual(s.drains.map((d) => d.handle), [3]);
  assert.deepEqual([s.history[0].desired, s.history[0].running], [4, 3]);
});
