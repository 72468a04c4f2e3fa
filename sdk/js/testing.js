// @ts-check
/**
 * Snapshots for unit tests under Node (no WebAssembly involved): the same
 * builder as the Rust SDK's `testing::SnapshotBuilder`, with the same
 * defaults, so a test ported from Rust builds the same snapshot.
 *
 *     const s = new SnapshotBuilder()
 *       .cpu(82.5)
 *       .task((t) => t.sessions(4))
 *       .task((t) => t.sessions(0).id("idle-task"))
 *       .param("cpu-high", 75)
 *       .build();
 *
 * `build()` gives the snapshot as a policy sees it (tasks and history as
 * records); `buildWire()` gives it as the host sends it (as columns), for
 * tests of an exported policy through the export glue.
 * @module testing
 */

import { TARGET_HEALTHS, TASK_STATUSES, nativeTaskIds } from "./autoscaler.js";

/** @typedef {import("./autoscaler.js").Task} Task */
/** @typedef {import("./autoscaler.js").Snapshot} Snapshot */
/** @typedef {import("./autoscaler.js").TickSummary} TickSummary */
/** @typedef {import("./autoscaler.js").TaskStatus} TaskStatus */
/** @typedef {import("./autoscaler.js").TargetHealth} TargetHealth */
/** @typedef {import("./autoscaler.js").WireSnapshot} WireSnapshot */

/** Builds one task of a snapshot; see `SnapshotBuilder.task`. */
export class TaskBuilder {
  /** @param {number} handle */
  constructor(handle) {
    /** @type {Task} */
    this.task = {
      handle,
      status: "running",
      health: "healthy",
      ageSeconds: 3600,
      protected: false,
      sessions: 0,
      cpu: null,
      memory: null,
      draining: false,
      cordonedSince: null,
    };
    /** @type {string | null} */
    this.taskId = null;
  }
  /** Sets the active session count (default 0). @param {number} n */
  sessions(n) {
    this.task.sessions = n;
    return this;
  }
  /** Sets the age in seconds (default 3600). @param {number} s */
  ageSeconds(s) {
    this.task.ageSeconds = s;
    return this;
  }
  /** Sets the ECS task ID (default `task-N`). @param {string} id */
  id(id) {
    this.taskId = id;
    return this;
  }
  /** Sets the status (default running). @param {TaskStatus} status */
  status(status) {
    this.task.status = status;
    return this;
  }
  /** Marks the task as still starting: pending, target initial, age 30 s. */
  starting() {
    this.task.status = "pending";
    this.task.health = "initial";
    this.task.ageSeconds = 30;
    return this;
  }
  /** Sets the target health (default healthy). @param {TargetHealth} health */
  health(health) {
    this.task.health = health;
    return this;
  }
  /** Turns scale-in protection on. */
  protected() {
    this.task.protected = true;
    return this;
  }
  /** Marks the task as being drained; the snapshot gets a matching drain in flight. */
  draining() {
    this.task.draining = true;
    this.task.health = "draining";
    return this;
  }
  /**
   * Marks the task as cordoned since `since` (seconds): it is draining too, and
   * the snapshot gets a matching drain in flight at step "cordoned". The target
   * health is left as set (an app-level cordon keeps the target healthy).
   * @param {number} since
   */
  cordoned(since) {
    this.task.draining = true;
    this.task.cordonedSince = since;
    return this;
  }
  /** Sets the task's CPU utilization. @param {number} cpu */
  cpu(cpu) {
    this.task.cpu = cpu;
    return this;
  }
  /** Sets the task's memory utilization. @param {number} memory */
  memory(memory) {
    this.task.memory = memory;
    return this;
  }
}

const STARTING = ["provisioning", "pending", "activating"];

/**
 * Builds a snapshot with the Rust builder's defaults: cluster `test`,
 * service `svc`, now 1_700_000_000, min 1, max 10, CPU 50 %, memory 40 %,
 * session data fresh, and the desired and running counts derived from the
 * tasks added.
 */
export class SnapshotBuilder {
  constructor() {
    /** @type {Snapshot} */
    this.s = {
      cluster: "test",
      service: "svc",
      now: 1_700_000_000,
      desired: 0,
      running: 0,
      pending: 0,
      min: 1,
      max: 10,
      cpu: 50,
      memory: 40,
      sessionsKnown: true,
      tasks: [],
      drains: [],
      history: [],
      params: [],
    };
    /** @type {string[]} */
    this.ids = [];
    /** @type {number | null} */
    this.desiredOverride = null;
  }
  /** Sets the service name. @param {string} name */
  service(name) {
    this.s.service = name;
    return this;
  }
  /** Sets the tick's time in seconds. @param {number | bigint} now */
  now(now) {
    this.s.now = now;
    return this;
  }
  /** Sets the minimum task count. @param {number} n */
  min(n) {
    this.s.min = n;
    return this;
  }
  /** Sets the maximum task count. @param {number} n */
  max(n) {
    this.s.max = n;
    return this;
  }
  /** Overrides the desired count (by default, the number of tasks added). @param {number} n */
  desired(n) {
    this.desiredOverride = n;
    return this;
  }
  /** Sets the service CPU utilization. @param {number} cpu */
  cpu(cpu) {
    this.s.cpu = cpu;
    return this;
  }
  /** Sets the service memory utilization. @param {number} memory */
  memory(memory) {
    this.s.memory = memory;
    return this;
  }
  /** Removes both service metrics, as when CloudWatch has no datapoint. */
  noMetrics() {
    this.s.cpu = null;
    this.s.memory = null;
    return this;
  }
  /** Marks the session counts as unknown (the session store could not be read). */
  sessionsUnknown() {
    this.s.sessionsKnown = false;
    return this;
  }
  /**
   * Adds a task shaped by `shape`, starting from a running, healthy, idle task.
   * @param {(t: TaskBuilder) => TaskBuilder} [shape]
   */
  task(shape = (t) => t) {
    const handle = this.s.tasks.length;
    const built = shape(new TaskBuilder(handle));
    this.ids.push(built.taskId ?? `task-${handle}`);
    this.s.tasks.push(built.task);
    return this;
  }
  /** Adds `n` running, healthy, idle tasks. @param {number} n */
  runningTasks(n) {
    for (let i = 0; i < n; i++) this.task();
    return this;
  }
  /**
   * Adds earlier ticks with the given `[at, cpu]` pairs; counts copy the current ones.
   * @param {Array<[number | bigint, number]>} samples
   */
  historyCpu(samples) {
    for (const [at, cpu] of samples) {
      this.s.history.push({ at, desired: 0, running: 0, cpu, memory: null, sessions: null });
    }
    return this;
  }
  /** Adds an earlier tick. @param {TickSummary} tick */
  history(tick) {
    this.s.history.push(tick);
    return this;
  }
  /**
   * Sets a policy parameter: a number, a boolean or a string.
   * @param {string} name
   * @param {number | boolean | string} value
   */
  param(name, value) {
    /** @type {import("./autoscaler.js").ParamValue} */
    let v;
    if (typeof value === "number") v = { tag: "number", val: value };
    else if (typeof value === "boolean") v = { tag: "flag", val: value };
    else if (typeof value === "string") v = { tag: "text", val: value };
    else throw new TypeError(`a parameter is a number, a boolean or a string, not ${typeof value}`);
    this.s.params.push({ name, value: v });
    return this;
  }
  /**
   * Adds the defaults of the declared parameters not set yet, as the host does
   * when it loads a policy. Call it after `param`.
   * @param {import("./autoscaler.js").ParamSpec[]} specs
   */
  declared(specs) {
    for (const p of specs) {
      if (p.default !== undefined && !this.s.params.some((q) => q.name === p.name)) {
        this.s.params.push({ name: p.name, value: p.default });
      }
    }
    return this;
  }
  /** Finishes the snapshot and registers its task IDs for `taskId`. */
  build() {
    const s = this.s;
    s.running = s.tasks.filter((t) => t.status === "running").length;
    s.pending = s.tasks.filter((t) => STARTING.includes(t.status)).length;
    s.desired = this.desiredOverride ?? s.tasks.length;
    for (const t of s.tasks) {
      if (t.cordonedSince !== null) {
        const elapsed = Math.min(Math.max(Number(s.now) - Number(t.cordonedSince), 0), 0xffffffff);
        s.drains.push({ handle: t.handle, step: "cordoned", elapsedSeconds: elapsed });
      } else if (t.draining) s.drains.push({ handle: t.handle, step: "waiting", elapsedSeconds: 60 });
    }
    for (const h of s.history) {
      if (h.desired === 0) {
        h.desired = s.desired;
        h.running = s.running;
      }
    }
    nativeTaskIds.clear();
    this.ids.forEach((id, i) => nativeTaskIds.set(i, id));
    return s;
  }
  /**
   * Finishes the snapshot as the host sends it: tasks and history as columns.
   * @returns {WireSnapshot}
   */
  buildWire() {
    return toWire(this.build());
  }
}

/** @param {number | null} v */
const nanIfNull = (v) => (v === null ? NaN : v);

/**
 * The snapshot as the host sends it: tasks and history as columns, `list<u8>`
 * columns as Uint8Array. For tests and tools: `fromWire(toWire(s))` deep-equals
 * `s` for any snapshot whose task handles are their indices and whose figures
 * are not NaN. Throws for a task whose handle is not its index.
 * @param {Snapshot} s
 * @returns {WireSnapshot}
 */
export function toWire(s) {
  s.tasks.forEach((t, i) => {
    if (t.handle !== i) throw new Error(`task ${i} has handle ${t.handle}: on the wire a task's handle is its index`);
  });
  const t = s.tasks;
  const h = s.history;
  return {
    ...s,
    tasks: {
      status: Uint8Array.from(t, (x) => TASK_STATUSES.indexOf(x.status)),
      health: Uint8Array.from(t, (x) => TARGET_HEALTHS.indexOf(x.health)),
      ageSeconds: t.map((x) => x.ageSeconds),
      sessions: t.map((x) => x.sessions),
      marks: Uint8Array.from(t, (x) => Number(x.protected) | (Number(x.draining) << 1) | (Number(x.cordonedSince !== null) << 2)),
      cordonedSince: t.map((x) => x.cordonedSince ?? 0),
      cpu: t.map((x) => nanIfNull(x.cpu)),
      memory: t.map((x) => nanIfNull(x.memory)),
    },
    drains: [...s.drains],
    history: {
      at: h.map((x) => x.at),
      desired: h.map((x) => x.desired),
      running: h.map((x) => x.running),
      cpu: h.map((x) => nanIfNull(x.cpu)),
      memory: h.map((x) => nanIfNull(x.memory)),
      sessions: h.map((x) => x.sessions ?? -1),
    },
    params: [...s.params],
  };
}
