// The session-aware policy's tests: those of the Rust policy, ported one for
// one, with its exact reasons, plus cases for ordering, drains in flight and
// parameters. Run with: node --test
import assert from "node:assert/strict";
import { test } from "node:test";

import { PolicyError, exportPolicy } from "autoscaler-sdk";
import { SnapshotBuilder } from "autoscaler-sdk/testing";
import { decide } from "./decide.js";

const quietHistory = (b) => b.now(2000).historyCpu([[1300, 10], [1500, 12], [1800, 11]]).cpu(10).memory(20);

test("rust: scales out on cpu", () => {
  const d = decide(new SnapshotBuilder().runningTasks(4).cpu(95).build());
  assert.equal(d.desired, 8);
  assert.equal(d.reason, "Scale out: CPU 95.0% is over 75%; 4 -> 8 tasks.");
  assert.deepEqual(d.drain, []);
});

test("rust: scales out on memory", () => {
  const d = decide(new SnapshotBuilder().runningTasks(2).cpu(20).memory(90).build());
  assert.equal(d.desired, 3);
  assert.equal(d.reason, "Scale out: memory 90.0% is over 80%; 2 -> 3 tasks.");
});

test("rust: scales out when sessions exceed capacity", () => {
  const s = new SnapshotBuilder()
    .task((t) => t.sessions(18))
    .task((t) => t.sessions(17))
    .cpu(40)
    .param("session-capacity", 20)
    .build();
  // 35 sessions at 16 per task need 3 tasks.
  const d = decide(s);
  assert.equal(d.desired, 3);
  assert.equal(d.reason, "Scale out: 35 sessions need 3 tasks at 16 per task; 2 -> 3 tasks.");
});

test("rust: scales in only through idle tasks", () => {
  const s = quietHistory(
    new SnapshotBuilder().task((t) => t.sessions(3)).task((t) => t.sessions(0)).task((t) => t.sessions(1)).task((t) => t.sessions(0)),
  ).build();
  const d = decide(s);
  assert.equal(d.desired, 2);
  assert.deepEqual(d.drain, [1, 3]);
  for (const h of d.drain) assert.equal(s.tasks[h].sessions, 0);
  assert.equal(d.reason, "Scale in: utilization under 30% CPU for 600s; 4 -> 2 tasks through idle tasks.");
});

test("rust: does not scale in without a quiet window", () => {
  const s = new SnapshotBuilder().now(2000).historyCpu([[1300, 10], [1500, 50]]).cpu(10).memory(20).runningTasks(3).build();
  const d = decide(s);
  assert.equal(d.desired, null);
  assert.equal(d.reason, "Utilization is within its band.");
});

test("rust: does not scale in on unknown sessions", () => {
  const d = decide(quietHistory(new SnapshotBuilder().runningTasks(3)).sessionsUnknown().build());
  assert.equal(d.desired, null);
  assert.equal(d.reason, "Session counts are unknown; not scaling in.");
});

test("rust: keeps the floor and session needs", () => {
  const d = decide(quietHistory(new SnapshotBuilder().min(2).task((t) => t.sessions(0)).task((t) => t.sessions(0))).build());
  assert.equal(d.desired, null);
  assert.equal(d.reason, "Utilization is low, but no idle task can go (2 idle, 0 sessions).");
});

test("rust: rejects inverted bands", () => {
  assert.throws(
    () => decide(new SnapshotBuilder().runningTasks(1).param("cpu-low", 90).build()),
    (e) => e instanceof PolicyError && e.message === "parameters cpu-low/memory-low must be below cpu-high/memory-high",
  );
});

test("drains youngest first, ties keep snapshot order", () => {
  const s = quietHistory(
    new SnapshotBuilder()
      .task((t) => t.ageSeconds(900))
      .task((t) => t.ageSeconds(300))
      .task((t) => t.ageSeconds(900))
      .task((t) => t.ageSeconds(300).sessions(2))
      .task((t) => t.ageSeconds(300)),
  ).build();
  const d = decide(s);
  assert.deepEqual(d.drain, [1, 4, 0, 2]);
  assert.equal(d.desired, 1);
});

test("drains in flight lower the base", () => {
  const s = quietHistory(new SnapshotBuilder().runningTasks(3).task((t) => t.draining()).task((t) => t.sessions(5))).build();
  const d = decide(s);
  // desired 5, one drain in flight: current 4; three idle tasks; floor 1 (5 sessions need 1).
  assert.equal(d.desired, 1);
  assert.deepEqual(d.drain, [0, 1, 2]);
  assert.match(d.reason, /4 -> 1 tasks/);
});

test("scale-out reasons format like Rust", () => {
  const d = decide(new SnapshotBuilder().runningTasks(3).cpu(80.25).param("cpu-high", 72.5).build());
  // 80.25 rounds half to even: 80.2. 72.5 rounds to 72. ceil(3 * 80.25 / 51.25) = 5.
  assert.equal(d.reason, "Scale out: CPU 80.2% is over 72%; 3 -> 5 tasks.");
  assert.equal(d.desired, 5);
});

test("session capacity per task is rounded in the reason", () => {
  const s = new SnapshotBuilder().task((t) => t.sessions(30)).cpu(10).param("session-capacity", 12.5).param("session-headroom", 0.9).build();
  assert.equal(decide(s).reason, "Scale out: 30 sessions need 3 tasks at 11 per task; 1 -> 3 tasks.");
});

test("cpu wins over memory in the reason; both size the target", () => {
  const d = decide(new SnapshotBuilder().runningTasks(2).cpu(76).memory(200).build());
  assert.equal(d.desired, 7); // memory: ceil(2 * 200 / 60) = 7
  assert.ok(d.reason.startsWith("Scale out: CPU 76.0% is over 75%"));
});

test("missing metrics do not block a scale-in", () => {
  const s = new SnapshotBuilder().now(2000).historyCpu([[1300, 10], [1800, 11]]).cpu(10).runningTasks(2).build();
  s.memory = null;
  assert.equal(decide(s).desired, 1);
  s.cpu = null;
  assert.equal(decide(s).desired, 1, "history alone is below cpu-low");
});

test("the window parameter", () => {
  assert.equal(decide(quietHistory(new SnapshotBuilder().runningTasks(2)).param("scale-in-window", 900.4).build()).desired, null);
  const d = decide(quietHistory(new SnapshotBuilder().runningTasks(2)).param("scale-in-window", -5).build());
  assert.equal(d.reason, "Scale in: utilization under 30% CPU for 0s; 2 -> 1 tasks through idle tasks.");
  const huge = decide(quietHistory(new SnapshotBuilder().runningTasks(2)).param("scale-in-window", 1e30).build());
  assert.equal(huge.reason, "Utilization is within its band.");
});

test("parameter checks", () => {
  for (const [name, value] of [["session-capacity", 0.5], ["session-headroom", 0.05], ["session-headroom", 1.5], ["session-headroom", NaN]]) {
    assert.throws(() => decide(new SnapshotBuilder().runningTasks(1).param(name, value).build()), /session-capacity must be >= 1/);
  }
  // A parameter of the wrong kind falls back to its default.
  assert.equal(decide(new SnapshotBuilder().runningTasks(1).param("cpu-high", "high").cpu(80).build()).desired, 2);
});

test("starting tasks are not drained", () => {
  const s = quietHistory(new SnapshotBuilder().task((t) => t.starting()).task((t) => t.status("running")).task()).build();
  assert.deepEqual(decide(s).drain, [1, 2]);
});

test("logs the tasks it drains as rust does", (t) => {
  const logged = (b) => {
    const error = t.mock.method(console, "error", () => {});
    try {
      decide(quietHistory(b).build());
      return error.mock.calls.map((c) => c.arguments[0]);
    } finally {
      error.mock.restore();
    }
  };
  const two = new SnapshotBuilder().task((t) => t.id("a1")).task((t) => t.sessions(1)).task((t) => t.id("c3").ageSeconds(60));
  assert.deepEqual(logged(two), ["[policy info] draining 2 idle tasks: c3, a1"]);
  assert.deepEqual(logged(new SnapshotBuilder().runningTasks(8)), [
    "[policy info] draining 7 idle tasks: task-0, task-1, task-2, task-3, task-4, ...",
  ]);
});

test("the exported policy", () => {
  const p = exportPolicy(decide, { name: "session-aware-js", version: "0.1.0" });
  assert.equal(p.decide(new SnapshotBuilder().runningTasks(4).cpu(95).build()).desired, 8);
  // As the host calls it: tasks and history as columns, rebuilt by the export glue.
  const b = quietHistory(new SnapshotBuilder().task((t) => t.sessions(2)).runningTasks(2).task((t) => t.ageSeconds(60)));
  assert.deepEqual(p.decide(b.buildWire()), decide(b.build()));
  assert.deepEqual(p.decide(b.buildWire()).drain, [3, 1, 2]);
  assert.throws(() => p.decide(new SnapshotBuilder().param("memory-low", 95).build()), (e) => typeof e === "string" && e.startsWith("parameters"));
});
