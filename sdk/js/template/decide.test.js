// Unit tests for the policy, under Node: node --test
import assert from "node:assert/strict";
import { test } from "node:test";

import { PolicyError } from "autoscaler-sdk";
import { SnapshotBuilder } from "autoscaler-sdk/testing";
import { decide } from "./decide.js";

test("scales out when hot", () => {
  const d = decide(new SnapshotBuilder().runningTasks(3).cpu(90).build());
  assert.equal(d.desired, 4);
  assert.equal(d.reason, "CPU 90.0% is over 75%; 3 -> 4 tasks.");
});

test("scales in through an idle task after a quiet window", () => {
  const s = new SnapshotBuilder()
    .now(1000)
    .historyCpu([[600, 12], [800, 15]])
    .cpu(10)
    .task((t) => t.sessions(4))
    .task((t) => t.sessions(0).ageSeconds(120))
    .build();
  const d = decide(s);
  assert.equal(d.desired, 1);
  assert.deepEqual(d.drain, [1]);
});

test("holds without a quiet window", () => {
  const s = new SnapshotBuilder().now(1000).historyCpu([[900, 12]]).cpu(10).runningTasks(2).build();
  assert.equal(decide(s).desired, null);
});

test("holds when sessions are unknown", () => {
  const s = new SnapshotBuilder().now(1000).historyCpu([[600, 12]]).cpu(10).runningTasks(2).sessionsUnknown().build();
  assert.equal(decide(s).desired, null);
});

test("never drains a busy task", () => {
  const s = new SnapshotBuilder().now(1000).historyCpu([[600, 12]]).cpu(10).task((t) => t.sessions(1)).task((t) => t.sessions(2)).build();
  assert.equal(decide(s).desired, null);
});

test("refuses an inverted band", () => {
  assert.throws(() => decide(new SnapshotBuilder().param("cpu-low", 80).build()), PolicyError);
});
