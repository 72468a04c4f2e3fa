// The SDK's shapes must be the contract's: reads wit/0.2.0/policy.wit and checks the
// enums' cases and the records' fields (camelCase, as componentize-qjs passes
// them) against what the SDK declares and the test builder produces, on the
// wire (tasks and history as columns) and as a policy sees them (as records).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { DRAIN_STEPS, TARGET_HEALTHS, TASK_STATUSES, exportPolicy, hold, numberParam, scaleTo } from "../autoscaler.js";
import { SnapshotBuilder, toWire } from "../testing.js";

const contract = readFileSync(new URL("../../../wit/0.2.0/policy.wit", import.meta.url), "utf8");
const wit = contract.replace(/\/\/[^\n]*/g, "");
const items = {};

test("the package's copy of the contract (wit/, what a policy builds against) is wit/0.2.0", () => {
  assert.equal(readFileSync(new URL("../wit/policy.wit", import.meta.url), "utf8"), contract);
});
for (const [, kind, name, body] of wit.matchAll(/\b(record|enum|variant)\s+([\w-]+)\s*\{([^}]*)\}/g)) {
  const entries = body.split(",").map((e) => e.trim()).filter(Boolean);
  items[`${kind} ${name}`] = entries.map((e) => e.split(/[:(]/)[0].trim());
}
const camel = (name) => name.replace(/-(\w)/g, (_, c) => c.toUpperCase());

test("the WIT was parsed", () => {
  assert.ok(items["record snapshot"].includes("sessions-known"));
});

test("enums", () => {
  assert.deepEqual(TASK_STATUSES, items["enum task-status"]);
  assert.deepEqual(TARGET_HEALTHS, items["enum target-health"]);
  assert.deepEqual(DRAIN_STEPS, items["enum drain-step"]);
});

test("records", () => {
  const s = new SnapshotBuilder()
    .task((t) => t.draining())
    .historyCpu([[1, 2]])
    .param("x", 1)
    .build();
  const fields = (name) => items[`record ${name}`].map(camel);
  const w = toWire(s);
  assert.deepEqual(Object.keys(w), fields("snapshot"));
  assert.deepEqual(Object.keys(w.tasks), fields("task-columns"));
  assert.deepEqual(Object.keys(w.history), fields("history-columns"));
  assert.deepEqual(Object.keys(s), fields("snapshot"));
  assert.deepEqual(Object.keys(s.drains[0]), fields("drain"));
  assert.deepEqual(Object.keys(s.params[0]), fields("param"));
  assert.deepEqual(Object.keys(scaleTo(1, "x")), fields("decision"));
  const info = exportPolicy(() => hold("x"), { name: "n", version: "1", params: [numberParam("p", 1, { min: 0 })] }).info();
  assert.deepEqual(Object.keys(info), fields("policy-info"));
  assert.deepEqual(Object.keys(info.params[0]), fields("param-spec"));
  assert.deepEqual(["number", "flag", "text"], items["enum param-kind"]);
});

test("a policy sees the records the contract had before it switched to columns", () => {
  const s = new SnapshotBuilder().task().historyCpu([[1, 2]]).build();
  const task = ["handle", "status", "health", "ageSeconds", "protected", "sessions", "cpu", "memory", "draining", "cordonedSince"];
  assert.deepEqual(Object.keys(s.tasks[0]), task);
  // Every task column but the marks (protected, draining) is a field of the same name.
  const columns = items["record task-columns"].map(camel).filter((c) => c !== "marks");
  assert.deepEqual([...columns, "handle", "protected", "draining"].sort(), [...task].sort());
  // A tick summary has one field per history column.
  assert.deepEqual(Object.keys(s.history[0]), items["record history-columns"].map(camel));
});

test("variants", () => {
  assert.deepEqual(items["variant param-value"], ["number", "flag", "text"]);
  const s = new SnapshotBuilder().param("n", 1).param("f", true).param("t", "x").build();
  assert.deepEqual(s.params.map((p) => p.value.tag), items["variant param-value"]);
});
