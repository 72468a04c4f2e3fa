// Tasks and history cross the boundary as columns; a policy sees the same records as before.
import assert from "node:assert/strict";
import { test } from "node:test";

import { TARGET_HEALTHS, TASK_STATUSES, exportPolicy, fromWire, scaleTo } from "../autoscaler.js";
import { SnapshotBuilder, toWire } from "../testing.js";

/** Every task status and target health, marks, known and unknown figures, and history. */
function varied() {
  const b = new SnapshotBuilder().now(5000);
  TASK_STATUSES.forEach((status, i) => b.task((t) => t.status(status).ageSeconds(60 * i + 1).sessions(i)));
  for (const health of TARGET_HEALTHS) b.task((t) => t.health(health).cpu(12.5).memory(0));
  b.task((t) => t.protected().cpu(99.75));
  b.task((t) => t.draining().memory(-0));
  b.task((t) => t.protected().draining().sessions(2 ** 32 - 1).ageSeconds(2 ** 32 - 1));
  b.historyCpu([[4000, 10], [4500, 0]]);
  b.history({ at: 4600, desired: 3, running: 2, cpu: null, memory: 55.5, sessions: 0 });
  b.history({ at: 2 ** 53, desired: 2 ** 32 - 1, running: 0, cpu: 1e300, memory: null, sessions: 2 ** 32 - 1 });
  return b;
}

test("round trip", () => {
  const s = varied().build();
  assert.deepEqual(fromWire(toWire(s)), s);
  assert.deepEqual(Object.keys(fromWire(toWire(s))), Object.keys(s));
});

test("the columns hold case indices, marks, NaN and -1", () => {
  const s = new SnapshotBuilder()
    .task((t) => t.starting())
    .task((t) => t.protected().cpu(40))
    .task((t) => t.draining())
    .task((t) => t.protected().draining())
    .history({ at: 1, desired: 2, running: 3, cpu: null, memory: 7, sessions: null })
    .history({ at: 2, desired: 2, running: 3, cpu: 8, memory: null, sessions: 9 })
    .build();
  const w = toWire(s);
  assert.deepEqual([...w.tasks.status], [1, 3, 3, 3]); // pending, running
  assert.deepEqual([...w.tasks.health], [1, 2, 4, 4]); // initial, healthy, draining
  assert.deepEqual([...w.tasks.marks], [0, 1, 2, 3]);
  assert.deepEqual(w.tasks.ageSeconds, [30, 3600, 3600, 3600]);
  assert.deepEqual(w.tasks.cpu, [NaN, 40, NaN, NaN]);
  assert.deepEqual(w.history.sessions, [-1, 9]);
  assert.deepEqual(w.history.cpu, [NaN, 8]);
  assert.deepEqual(w.history.at, [1, 2]);
});

test("a handle is an index", () => {
  const s = new SnapshotBuilder().runningTasks(3).build();
  assert.deepEqual(fromWire(toWire(s)).tasks.map((t) => t.handle), [0, 1, 2]);
  s.tasks.reverse();
  assert.throws(() => toWire(s), /handle is its index/);
});

test("NaN and out-of-range sessions read as unknown; plain arrays and bigints work too", () => {
  const w = toWire(new SnapshotBuilder().task().historyCpu([[1, 5], [2, 6], [3, 7], [4, 8]]).build());
  w.tasks.cpu = [NaN];
  w.tasks.status = [3];
  w.history.memory = [NaN, -NaN, 1, 2];
  w.history.sessions = [-1, -7, 2 ** 32, 5n];
  const s = fromWire(w);
  assert.equal(s.tasks[0].cpu, null);
  assert.equal(s.tasks[0].status, "running");
  assert.deepEqual(s.history.map((h) => h.memory), [null, null, 1, 2]);
  assert.deepEqual(s.history.map((h) => h.sessions), [null, null, null, 5]);
});

test("unknown cases and short columns read as the Rust SDK reads them", () => {
  const w = toWire(new SnapshotBuilder().runningTasks(3).historyCpu([[1, 5], [2, 6]]).build());
  w.tasks = {
    status: Uint8Array.of(8, 255, 3),
    health: Uint8Array.of(6),
    ageSeconds: [1],
    sessions: [],
    marks: Uint8Array.of(3, 2),
    cpu: [1, 2, 3, 4], // longer than the status column: the extra is ignored
    memory: [],
  };
  w.history = { ...w.history, desired: [4], cpu: [], sessions: [] };
  const s = fromWire(w);
  const task = (handle, status, ageSeconds, marks, cpu) => ({
    handle, status, health: "unknown", ageSeconds, protected: (marks & 1) !== 0, sessions: 0, cpu, memory: null, draining: (marks & 2) !== 0, cordonedSince: null,
  });
  assert.deepEqual(s.tasks, [task(0, "provisioning", 1, 3, 1), task(1, "provisioning", 0, 2, 2), task(2, "running", 0, 0, 3)]);
  assert.deepEqual(s.history, [
    { at: 1, desired: 4, running: 3, cpu: null, memory: null, sessions: null },
    { at: 2, desired: 0, running: 3, cpu: null, memory: null, sessions: null },
  ]);
});

test("the exported policy rebuilds the records", () => {
  const seen = [];
  const p = exportPolicy(
    (s) => {
      seen.push(s);
      return scaleTo(s.tasks.length, "n", s.tasks.filter((t) => t.draining).map((t) => t.handle));
    },
    { name: "t", version: "1" },
  );
  const d = p.decide(varied().buildWire());
  assert.deepEqual(seen[0], varied().build());
  assert.deepEqual(d, { desired: seen[0].tasks.length, drain: [15, 16], cordon: [], uncordon: [], reason: "n" });
  // A snapshot of records (what `build()` gives) is passed on as it is.
  const s = varied().build();
  p.decide(s);
  assert.equal(seen[1], s);
});
