// @ts-check
/**
 * Writing autoscaler policies in JavaScript.
 *
 * A policy is one plain function from a snapshot of a service to a decision.
 * `exportPolicy` makes it the component's `policy` export; the helpers here
 * follow the Rust SDK's (`sdk/src/helpers.rs`) exactly, and the `rust*`
 * functions give Rust's casts and float formatting to ports of Rust
 * policies, so they decide, and explain, exactly like the original.
 *
 * The types below are those of `wit/policy.wit` (package
 * `autoscaler:policy@0.2.0`) as componentize-qjs passes them: record fields
 * in camelCase, enums as their case names, `option<T>` as `T | null`,
 * variants as `{ tag, val }`. `u64` values arrive as numbers from
 * componentize-qjs; the helpers also accept bigints (jco's mapping).
 *
 * Tasks and history cross the boundary as columns of plain numbers
 * (`TaskColumns`, `HistoryColumns`), which the host copies in bulk; a policy
 * sees one `Task` per task and one `TickSummary` per earlier tick, with the
 * same fields and values as the Rust SDK's, rebuilt by the export glue
 * (`fromWire`).
 *
 * This module imports nothing, so it runs unchanged under Node for unit tests.
 * @module autoscaler
 */

/** The version of the policy contract (the WIT package) this SDK builds against. */
export const CONTRACT_VERSION = "0.2.0";

/**
 * @typedef {"provisioning" | "pending" | "activating" | "running" | "deactivating" | "stopping" | "deprovisioning" | "stopped"} TaskStatus
 *   The lifecycle of an ECS task, as ECS reports its last status.
 * @typedef {"unregistered" | "initial" | "healthy" | "unhealthy" | "draining" | "unknown"} TargetHealth
 *   The health of a task's target in the service's load balancer target group.
 * @typedef {"protecting" | "deregistering" | "waiting" | "rechecking" | "scaling-in" | "confirming" | "cordoned"} DrainStep
 *   The steps of the host's drain workflow for one task.
 * @typedef {number | bigint} U64 A `u64`: a number from componentize-qjs, a bigint from jco.
 */

/**
 * One task of the service, as a policy sees it (rebuilt from `TaskColumns`).
 * @typedef {object} Task
 * @property {number} handle An opaque handle for this task, valid for this call only: its index in `tasks`.
 * @property {TaskStatus} status The task's last known status.
 * @property {TargetHealth} health The health of the task's load balancer target.
 * @property {number} ageSeconds Seconds since the task started (or was created, if not started).
 * @property {boolean} protected Whether ECS scale-in protection is on for the task.
 * @property {number} sessions Sessions active on the task; meaningful only when `sessionsKnown`.
 * @property {number | null} cpu The task's CPU utilization in percent of its reservation.
 * @property {number | null} memory The task's memory utilization in percent of its reservation.
 * @property {boolean} draining Whether the task is already being drained by the host (a cordoned task is too).
 * @property {U64 | null} cordonedSince When the task was cordoned, in seconds, if it is: it takes no new sessions, keeps its own, and is stopped when the last one ends.
 */

/**
 * A drain workflow in flight.
 * @typedef {object} Drain
 * @property {number} handle The handle of the task being drained.
 * @property {DrainStep} step The step the workflow is at.
 * @property {number} elapsedSeconds Seconds since the workflow began.
 */

/**
 * A summary of one earlier tick, for trends, as a policy sees it (rebuilt from `HistoryColumns`).
 * @typedef {object} TickSummary
 * @property {U64} at When the tick ran, in seconds.
 * @property {number} desired The desired count at that tick.
 * @property {number} running The running count at that tick.
 * @property {number | null} cpu Service CPU utilization in percent, when known.
 * @property {number | null} memory Service memory utilization in percent, when known.
 * @property {number | null} sessions Total active sessions, when known.
 */

/**
 * The service's tasks as they cross the boundary: element `i` of every
 * column describes the task whose handle is `i`.
 * @typedef {object} TaskColumns
 * @property {Uint8Array | number[]} status Each task's `task-status` case index (see `TASK_STATUSES`).
 * @property {Uint8Array | number[]} health Each task's `target-health` case index (see `TARGET_HEALTHS`).
 * @property {number[]} ageSeconds Seconds since each task started (or was created).
 * @property {number[]} sessions Sessions active on each task.
 * @property {Uint8Array | number[]} marks Bit 0: scale-in protection is on; bit 1: the host is draining the task; bit 2: the task is cordoned.
 * @property {U64[]} cordonedSince When each task was cordoned, in seconds; meaningful only under mark bit 2 (0 for the others).
 * @property {number[]} cpu Each task's CPU utilization in percent; NaN when unknown.
 * @property {number[]} memory Each task's memory utilization in percent; NaN when unknown.
 */

/**
 * Earlier ticks as they cross the boundary: element `i` of every column
 * describes the `i`-th earlier tick, oldest first.
 * @typedef {object} HistoryColumns
 * @property {U64[]} at When each tick ran, in seconds.
 * @property {number[]} desired The desired count at each tick.
 * @property {number[]} running The running count at each tick.
 * @property {number[]} cpu Service CPU utilization in percent; NaN when unknown.
 * @property {number[]} memory Service memory utilization in percent; NaN when unknown.
 * @property {Array<number | bigint>} sessions Total active sessions; -1 when unknown.
 */

/**
 * The value of one policy parameter from the host's config.
 * @typedef {{tag: "number", val: number} | {tag: "flag", val: boolean} | {tag: "text", val: string}} ParamValue
 */

/**
 * One policy parameter from the host's config.
 * @typedef {object} Param
 * @property {string} name The parameter's name, as written in the config.
 * @property {ParamValue} value The parameter's value.
 */

/**
 * Everything the host knows about one service at one tick.
 * @typedef {object} Snapshot
 * @property {string} cluster The ECS cluster's name.
 * @property {string} service The ECS service's name.
 * @property {U64} now The time of this tick, in seconds.
 * @property {number} desired The service's desired task count.
 * @property {number} running Tasks running.
 * @property {number} pending Tasks starting (provisioning, pending or activating).
 * @property {number} min The lowest task count the host will allow.
 * @property {number} max The highest task count the host will allow.
 * @property {number | null} cpu Service CPU utilization in percent; null when missing, never 0 for missing.
 * @property {number | null} memory Service memory utilization in percent; null when missing.
 * @property {boolean} sessionsKnown Whether per-task session counts are fresh.
 * @property {Task[]} tasks Every task of the service that has not stopped.
 * @property {Drain[]} drains The drain workflows in flight; their tasks are still in `tasks`.
 * @property {TickSummary[]} history Summaries of earlier ticks, oldest first.
 * @property {Param[]} params The policy's parameters from the host's config.
 */

/**
 * A snapshot as it crosses the boundary: a `Snapshot` with tasks and history as columns.
 * @typedef {Omit<Snapshot, "tasks" | "history"> & {tasks: TaskColumns, history: HistoryColumns}} WireSnapshot
 */

/**
 * What the policy wants done.
 * @typedef {object} Decision
 * @property {number | null} desired The absolute number of tasks wanted (draining tasks count as gone); null leaves the count as it is.
 * @property {number[]} drain Handles of the tasks to drain on scale-in, best first.
 * @property {number[]} cordon Handles of busy tasks to cordon (no new sessions; stopped when their last session ends).
 * @property {number[]} uncordon Handles of cordoned tasks to serve again.
 * @property {string} reason Why, in a sentence.
 */

/**
 * One parameter the policy declares: the host checks the service's `[params]`
 * against the declarations when it loads the policy, and fills in defaults.
 * @typedef {object} ParamSpec
 * @property {string} name The name, as written in the config.
 * @property {"number" | "flag" | "text"} kind Its type.
 * @property {ParamValue | undefined} default The value used when the config leaves it out; undefined for an optional parameter.
 * @property {number | undefined} min The lowest number allowed.
 * @property {number | undefined} max The highest number allowed.
 * @property {string} doc What it does, in one line.
 */

/**
 * A policy's name and version, and the parameters it declares.
 * @typedef {object} PolicyInfo
 * @property {string} name A short name, such as "session-aware".
 * @property {string} version The policy's own version, such as "1.2.0".
 * @property {ParamSpec[]} params The declared parameters.
 */

/**
 * The host interface as a component imports it (`autoscaler:policy/host@0.2.0`).
 * @typedef {object} Host
 * @property {(level: "debug" | "info" | "warn" | "error", message: string) => void} log
 * @property {(handle: number) => string | null | undefined} taskId
 */

/** Enum cases in WIT order, for checks and tests. */
export const TASK_STATUSES = Object.freeze(["provisioning", "pending", "activating", "running", "deactivating", "stopping", "deprovisioning", "stopped"]);
/** Enum cases in WIT order. */
export const TARGET_HEALTHS = Object.freeze(["unregistered", "initial", "healthy", "unhealthy", "draining", "unknown"]);
/** Enum cases in WIT order. */
export const DRAIN_STEPS = Object.freeze(["protecting", "deregistering", "waiting", "rechecking", "scaling-in", "confirming", "cordoned"]);

// ---------------------------------------------------------------------------
// From the columns to the records a policy sees

// A byte to its case, for every byte: like the Rust SDK, a status the
// contract does not know reads as provisioning and a health as unknown.
/** @type {TaskStatus[]} */
const STATUS_OF = Array.from({ length: 256 }, (_, i) => /** @type {TaskStatus} */ (TASK_STATUSES[i] ?? "provisioning"));
/** @type {TargetHealth[]} */
const HEALTH_OF = Array.from({ length: 256 }, (_, i) => /** @type {TargetHealth} */ (TARGET_HEALTHS[i] ?? "unknown"));

/** @param {number | undefined} v NaN or missing: unknown. */
const known = (v) => (v === undefined || Number.isNaN(v) ? null : v);

/** @param {number | bigint | undefined} v A session total, -1 (or anything outside u32) when unknown. */
const knownSessions = (v) => (v !== undefined && v >= 0 && v <= U32_MAX ? Number(v) : null);

/**
 * The policy's view of a snapshot that crossed the boundary as columns: one
 * `Task` per task (its handle is its index) and one `TickSummary` per earlier
 * tick. NaN figures and negative or out-of-range session totals read as null.
 * The number of tasks is the length of the status column and the number of
 * ticks that of `at`; a shorter column reads as zeros and nulls (the host never
 * sends one). Every other field is passed on as it is.
 * @param {WireSnapshot} w
 * @returns {Snapshot}
 */
export function fromWire(w) {
  const c = w.tasks;
  /** @type {Task[]} */
  const tasks = new Array(c.status.length);
  for (let i = 0; i < tasks.length; i++) {
    const marks = c.marks[i] ?? 0;
    tasks[i] = {
      handle: i,
      status: STATUS_OF[c.status[i]] ?? "provisioning",
      health: HEALTH_OF[c.health[i]] ?? "unknown",
      ageSeconds: c.ageSeconds[i] ?? 0,
      protected: (marks & 1) !== 0,
      sessions: c.sessions[i] ?? 0,
      cpu: known(c.cpu[i]),
      memory: known(c.memory[i]),
      draining: (marks & 2) !== 0,
      cordonedSince: (marks & 4) !== 0 ? (c.cordonedSince?.[i] ?? 0) : null,
    };
  }
  const h = w.history;
  /** @type {TickSummary[]} */
  const history = new Array(h.at.length);
  for (let i = 0; i < history.length; i++) {
    history[i] = {
      at: h.at[i],
      desired: h.desired[i] ?? 0,
      running: h.running[i] ?? 0,
      cpu: known(h.cpu[i]),
      memory: known(h.memory[i]),
      sessions: knownSessions(h.sessions[i]),
    };
  }
  // The spread keeps the fields in the contract's order.
  return { ...w, tasks, history };
}

// ---------------------------------------------------------------------------
// Rust number semantics

/** The largest u32. */
export const U32_MAX = 0xffffffff;
/** The largest u64, as a bigint. */
export const U64_MAX = 0xffffffffffffffffn;

const f64Buf = new Float64Array(1);
const bitsBuf = new BigUint64Array(f64Buf.buffer);

/**
 * Rust's `format!("{:.N}", x)` for an f64: the exact binary value rounded half
 * to even, NaN / inf / -inf spelled as Rust does, and the sign kept when a
 * negative value rounds to zero ("-0.0"). `Number.prototype.toFixed` differs:
 * it rounds ties away from zero and switches to exponents from 1e21.
 * @param {number} x
 * @param {number} digits
 * @returns {string}
 */
export function fmtFixed(x, digits) {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  f64Buf[0] = x;
  const bits = bitsBuf[0];
  const negative = bits >> 63n === 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & 0xfffffffffffffn;
  let exponent = -1074;
  if (biased !== 0) {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  // |x| = mantissa * 2^exponent exactly; n = |x| * 10^digits rounded half to even.
  const scale = 10n ** BigInt(digits);
  let n;
  if (exponent >= 0) {
    n = (mantissa << BigInt(exponent)) * scale;
  } else {
    const num = mantissa * scale;
    const den = 1n << BigInt(-exponent);
    n = num / den;
    const twice = (num - n * den) * 2n;
    if (twice > den || (twice === den && (n & 1n) === 1n)) n += 1n;
  }
  let s = n.toString();
  if (digits > 0) {
    s = s.padStart(digits + 1, "0");
    s = `${s.slice(0, -digits)}.${s.slice(-digits)}`;
  }
  return negative ? `-${s}` : s;
}

/**
 * Rust's `x as u32` for an f64: truncates toward zero, NaN gives 0, out-of-range values clamp.
 * @param {number} x
 * @returns {number}
 */
export function asU32(x) {
  if (Number.isNaN(x) || x <= 0) return 0;
  if (x >= 4294967296) return U32_MAX;
  return Math.trunc(x);
}

/**
 * Rust's `x as u64` for an f64, as a bigint (u64 does not fit a number).
 * @param {number} x
 * @returns {bigint}
 */
export function asU64(x) {
  if (Number.isNaN(x) || x <= 0) return 0n;
  if (x >= 18446744073709551616) return U64_MAX;
  return BigInt(Math.trunc(x));
}

/**
 * Rust's `x.ceil() as u32`.
 * @param {number} x
 * @returns {number}
 */
export function ceilU32(x) {
  return asU32(Math.ceil(x));
}

/**
 * Rust's `f64::max`: the larger one; a NaN argument gives the other.
 * (`Math.max` returns NaN instead.)
 * @param {number} a
 * @param {number} b
 */
export function fmax(a, b) {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return a >= b ? a : b;
}

/**
 * Rust's `f64::min`: the smaller one; a NaN argument gives the other.
 * @param {number} a
 * @param {number} b
 */
export function fmin(a, b) {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return a <= b ? a : b;
}

/**
 * `a + b` on u32 as a Rust release build computes it (wrapping).
 * @param {number} a
 * @param {number} b
 */
export function wrappingAddU32(a, b) {
  return (a + b) >>> 0;
}

/**
 * Rust's `a.saturating_sub(b)` on unsigned integers (numbers or bigints, not mixed).
 * @template {number | bigint} T
 * @param {T} a
 * @param {T} b
 * @returns {T}
 */
export function saturatingSub(a, b) {
  // @ts-ignore: a and b have the same type
  return a > b ? a - b : typeof a === "bigint" ? 0n : 0;
}

/**
 * A u64 from the snapshot (number or bigint) as a bigint, for exact arithmetic.
 * @param {U64} v
 * @returns {bigint}
 */
export function u64(v) {
  return typeof v === "bigint" ? v : BigInt(v);
}

// ---------------------------------------------------------------------------
// Helpers, as in the Rust SDK

/**
 * Whether the task is running, not being drained and not cordoned: it takes new sessions.
 * @param {Task} t
 */
export function isServing(t) {
  return t.status === "running" && !t.draining && !isCordoned(t);
}

/**
 * Whether the task is cordoned: no new sessions, keeps its own, stopped when the last one ends.
 * @param {Task} t
 */
export function isCordoned(t) {
  return t.cordonedSince !== null && t.cordonedSince !== undefined;
}

/**
 * Whether the task is serving and has no active session: a candidate to drain.
 * @param {Task} t
 */
export function isIdle(t) {
  return isServing(t) && t.sessions === 0;
}

/**
 * Tasks that are running, not draining, and carry no session, youngest
 * first (ascending `ageSeconds`). Ties keep their snapshot order, whatever
 * the engine's sort.
 * @param {Snapshot} s
 * @returns {Task[]}
 */
export function idleTasks(s) {
  return s.tasks
    .map((t, i) => ({ t, i }))
    .filter(({ t }) => isIdle(t))
    .sort((a, b) => a.t.ageSeconds - b.t.ageSeconds || a.i - b.i)
    .map(({ t }) => t);
}

/**
 * Tasks that take new sessions (running, not draining, not cordoned), in snapshot order.
 * @param {Snapshot} s
 * @returns {Task[]}
 */
export function servingTasks(s) {
  return s.tasks.filter(isServing);
}

/**
 * The serving tasks, fewest sessions first, ties by handle: the cheapest to cordon first.
 * @param {Snapshot} s
 * @returns {Task[]}
 */
export function leastLoadedTasks(s) {
  return servingTasks(s).sort((a, b) => a.sessions - b.sessions || a.handle - b.handle);
}

/**
 * The cordoned tasks, in handle order.
 * @param {Snapshot} s
 * @returns {Task[]}
 */
export function cordonedTasks(s) {
  return s.tasks.filter(isCordoned);
}

/**
 * Free session slots on the serving tasks, each holding `perTask` at most
 * (u32, saturating): the sum of `perTask - sessions` (0 for a task at or over
 * it). Cordoned and draining tasks offer none.
 * @param {Snapshot} s
 * @param {number} perTask
 */
export function servingCapacity(s, perTask) {
  let total = 0;
  for (const t of servingTasks(s)) total = Math.min(total + saturatingSub(perTask, t.sessions), U32_MAX);
  return total;
}

/**
 * All active sessions on the service (u32, wrapping like a release build).
 * @param {Snapshot} s
 */
export function totalSessions(s) {
  let total = 0;
  for (const t of s.tasks) total = wrappingAddU32(total, t.sessions);
  return total;
}

/**
 * Average sessions per serving task; null when no task serves.
 * @param {Snapshot} s
 * @returns {number | null}
 */
export function sessionsPerTask(s) {
  const serving = servingTasks(s);
  if (serving.length === 0) return null;
  let sessions = 0;
  for (const t of serving) sessions = wrappingAddU32(sessions, t.sessions);
  return sessions / serving.length;
}

/**
 * The higher of service CPU and memory utilization in percent; null when both are missing.
 * @param {Snapshot} s
 * @returns {number | null}
 */
export function utilization(s) {
  if (s.cpu != null && s.memory != null) return fmax(s.cpu, s.memory);
  return s.cpu ?? s.memory ?? null;
}

/**
 * The task count once the drains in flight finish: the base for a new target.
 * @param {Snapshot} s
 */
export function effectiveDesired(s) {
  return saturatingSub(s.desired, s.drains.length >>> 0);
}

/**
 * @param {Snapshot} s
 * @param {string} name
 */
function param(s, name) {
  const p = s.params.find((q) => q.name === name);
  return p ? p.value : null;
}

/**
 * A numeric parameter from the config, if the first one of that name is a number.
 * @param {Snapshot} s
 * @param {string} name
 * @returns {number | null}
 */
export function paramF64(s, name) {
  const v = param(s, name);
  return v && v.tag === "number" ? v.val : null;
}

/**
 * A true/false parameter from the config, if the first one of that name is a flag.
 * @param {Snapshot} s
 * @param {string} name
 * @returns {boolean | null}
 */
export function paramBool(s, name) {
  const v = param(s, name);
  return v && v.tag === "flag" ? v.val : null;
}

/**
 * A text parameter from the config, if the first one of that name is text.
 * @param {Snapshot} s
 * @param {string} name
 * @returns {string | null}
 */
export function paramStr(s, name) {
  const v = param(s, name);
  return v && v.tag === "text" ? v.val : null;
}

/**
 * One `[at, value]` point of a metric: seconds (as in the snapshot) and percent.
 * @typedef {[U64, number]} Sample
 */

/**
 * @param {Snapshot} s
 * @param {number | bigint} windowSeconds
 * @param {(h: TickSummary) => number | null} pick
 * @param {number | null} current
 * @returns {Sample[]}
 */
function window(s, windowSeconds, pick, current) {
  const since = saturatingSub(u64(s.now), u64(windowSeconds));
  /** @type {Sample[]} */
  const out = [];
  for (const h of s.history) {
    if (u64(h.at) >= since) {
      const v = pick(h);
      if (v != null) out.push([h.at, v]);
    }
  }
  if (current != null) out.push([s.now, current]);
  return out;
}

/**
 * Service CPU samples from the last `windowSeconds` of history plus now,
 * oldest first. Ticks with no CPU figure are skipped.
 * @param {Snapshot} s
 * @param {number | bigint} windowSeconds
 */
export function cpuWindow(s, windowSeconds) {
  return window(s, windowSeconds, (h) => h.cpu, s.cpu);
}

/**
 * Like `cpuWindow`, for memory.
 * @param {Snapshot} s
 * @param {number | bigint} windowSeconds
 */
export function memoryWindow(s, windowSeconds) {
  return window(s, windowSeconds, (h) => h.memory, s.memory);
}

/**
 * Whether the history covers at least `windowSeconds` and service CPU stayed
 * below `threshold` in every sample of that window, this tick included: the
 * hysteresis a scale-in wants.
 * @param {Snapshot} s
 * @param {number} threshold
 * @param {number | bigint} windowSeconds
 */
export function cpuBelowFor(s, threshold, windowSeconds) {
  const covered =
    s.history.length > 0 && saturatingSub(u64(s.now), u64(s.history[0].at)) >= u64(windowSeconds);
  const samples = cpuWindow(s, windowSeconds);
  return covered && samples.length > 0 && samples.every(([, c]) => c < threshold);
}

/**
 * The direction of a metric over the history window.
 * @typedef {object} Trend
 * @property {number} perMinute Change per minute, from a least-squares line through the samples.
 * @property {number} samples How many samples the line was fitted to.
 */

/**
 * A least-squares line through samples; null with fewer than two samples or
 * when they all share one time. The same arithmetic, in the same order, as
 * the Rust SDK.
 * @param {Sample[]} samples
 * @returns {Trend | null}
 */
export function trend(samples) {
  if (samples.length < 2) return null;
  const n = samples.length;
  const t0 = u64(samples[0][0]);
  const xs = samples.map(([t]) => Number(BigInt.asUintN(64, u64(t) - t0)) / 60);
  let sumX = -0;
  for (const x of xs) sumX += x;
  let sumY = -0;
  for (const [, y] of samples) sumY += y;
  const meanX = sumX / n;
  const meanY = sumY / n;
  let cov = 0;
  let variance = 0;
  for (let i = 0; i < n; i++) {
    cov += (xs[i] - meanX) * (samples[i][1] - meanY);
    variance += (xs[i] - meanX) * (xs[i] - meanX);
  }
  return variance > 0 ? { perMinute: cov / variance, samples: n } : null;
}

/**
 * The CPU trend over the last `windowSeconds`; null with fewer than two samples.
 * @param {Snapshot} s
 * @param {number | bigint} windowSeconds
 */
export function cpuTrend(s, windowSeconds) {
  return trend(cpuWindow(s, windowSeconds));
}

// ---------------------------------------------------------------------------
// Decisions

/**
 * No change to the task count.
 * @param {string} reason
 * @returns {Decision}
 */
export function hold(reason) {
  return { desired: null, drain: [], cordon: [], uncordon: [], reason };
}

/**
 * An absolute target task count, with the tasks to drain on scale-in, best first.
 * @param {number} desired
 * @param {string} reason
 * @param {Iterable<number>} [drain]
 * @returns {Decision}
 */
export function scaleTo(desired, reason, drain = []) {
  return { desired, drain: [...drain], cordon: [], uncordon: [], reason };
}

/**
 * The decision with its drain candidates replaced by `handles`, best first.
 * @param {Decision} decision
 * @param {Iterable<number>} handles
 * @returns {Decision}
 */
export function withDrain(decision, handles) {
  return { ...decision, drain: [...handles] };
}

/**
 * The decision with the busy tasks to cordon replaced by `handles` (independent of `desired`).
 * @param {Decision} decision
 * @param {Iterable<number>} handles
 * @returns {Decision}
 */
export function withCordon(decision, handles) {
  return { ...decision, cordon: [...handles] };
}

/**
 * The decision with the cordoned tasks to serve again replaced by `handles`.
 * @param {Decision} decision
 * @param {Iterable<number>} handles
 * @returns {Decision}
 */
export function withUncordon(decision, handles) {
  return { ...decision, uncordon: [...handles] };
}

// ---------------------------------------------------------------------------
// Declared parameters

/**
 * @param {string} name
 * @param {"number" | "flag" | "text"} kind
 * @param {ParamValue | undefined} value
 * @param {{min?: number, max?: number, doc?: string}} options
 * @returns {ParamSpec}
 */
function spec(name, kind, value, { min, max, doc = "" }) {
  return { name, kind, default: value, min, max, doc };
}

/**
 * Declares a number parameter (default undefined or null: optional, absent when the config leaves it out).
 * @param {string} name
 * @param {number | null | undefined} value The default.
 * @param {{min?: number, max?: number, doc?: string}} [options]
 */
export function numberParam(name, value, options = {}) {
  return spec(name, "number", value == null ? undefined : { tag: "number", val: value }, options);
}

/**
 * Declares a true/false parameter.
 * @param {string} name
 * @param {boolean | null | undefined} value The default.
 * @param {{doc?: string}} [options]
 */
export function flagParam(name, value, options = {}) {
  return spec(name, "flag", value == null ? undefined : { tag: "flag", val: value }, { doc: options.doc });
}

/**
 * Declares a text parameter.
 * @param {string} name
 * @param {string | null | undefined} value The default.
 * @param {{doc?: string}} [options]
 */
export function textParam(name, value, options = {}) {
  return spec(name, "text", value == null ? undefined : { tag: "text", val: value }, { doc: options.doc });
}

/** Throw this from `decide` to refuse a snapshot: the host records a policy fault and holds. */
export class PolicyError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "PolicyError";
  }
}

// ---------------------------------------------------------------------------
// The host: log and task IDs

/** @type {Host | null} */
let host = null;

/** Task IDs of the last snapshot built by `testing.js`, for `taskId` outside a component. */
export const nativeTaskIds = new Map();

/**
 * @param {"debug" | "info" | "warn" | "error"} level
 * @param {string} message
 */
function write(level, message) {
  if (host) host.log(level, message);
  // Outside a component only: inside one, console would reach for WASI.
  else console.error(`[policy ${level}] ${message}`);
}

/** Logging to the host's log, tagged with the policy's name (standard error under Node). */
export const log = Object.freeze({
  /** @param {string} message Detail for debugging a policy. */
  debug: (message) => write("debug", message),
  /** @param {string} message Normal information. */
  info: (message) => write("info", message),
  /** @param {string} message Something surprising that the policy handled. */
  warn: (message) => write("warn", message),
  /** @param {string} message Something that went wrong. */
  error: (message) => write("error", message),
});

/**
 * The ECS task ID behind a handle from the current snapshot, for logs.
 * @param {number} handle
 * @returns {string | null}
 */
export function taskId(handle) {
  if (host) return host.taskId(handle) ?? null;
  return nativeTaskIds.get(handle) ?? null;
}

// ---------------------------------------------------------------------------
// Export

/** @param {unknown} v */
const isU32 = (v) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= U32_MAX;

/**
 * The decision as the host takes it, or a PolicyError saying what is wrong.
 * @param {unknown} d
 * @returns {Decision}
 */
function check(d) {
  if (d === null || typeof d !== "object") {
    throw new PolicyError(`decide returned ${d === null ? "null" : typeof d}, not a decision`);
  }
  const { desired = null, drain = [], cordon = [], uncordon = [], reason } = /** @type {any} */ (d);
  if (desired !== null && !isU32(desired)) {
    const hint = typeof desired === "number" && Number.isFinite(desired) ? " (round it: Math.ceil)" : "";
    throw new PolicyError(`decision.desired must be null or an integer in 0..=4294967295, not ${String(desired)}${hint}`);
  }
  for (const [field, list] of [["drain", drain], ["cordon", cordon], ["uncordon", uncordon]]) {
    if (!Array.isArray(list)) throw new PolicyError(`decision.${field} must be an array of task handles`);
    for (const h of list) {
      if (!isU32(h)) throw new PolicyError(`decision.${field} must hold task handles, not ${JSON.stringify(h)}`);
    }
  }
  if (typeof reason !== "string") throw new PolicyError(`decision.reason must be a string, not ${typeof reason}`);
  return { desired, drain: [...drain], cordon: [...cordon], uncordon: [...uncordon], reason };
}

/** @param {unknown} e */
function faultMessage(e) {
  if (e instanceof PolicyError) return e.message || "the policy refused the snapshot";
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/**
 * The object a component exports as the world's `policy` interface:
 *
 *     import * as host from "autoscaler:policy/host@0.2.0";
 *     export const policy = exportPolicy(decide, { name: "my-policy", version: "0.1.0", host,
 *       params: [numberParam("buffer-slots", 10, { min: 0, max: 500, doc: "Free slots." })] });
 *
 * `decide` returns a decision (see `hold` and `scaleTo`) or throws; a throw,
 * like a malformed decision, becomes the `decide` error (a policy fault) with
 * a message. Without `host` (under Node) log lines go to standard error.
 * `params` declares the parameters the policy reads (`numberParam`,
 * `flagParam`, `textParam`): the host checks the service's `[params]`
 * against them when it loads the policy and fills in their defaults.
 *
 * The exported `decide` takes the snapshot as it crosses the boundary, tasks
 * and history as columns, and hands `decide` the records rebuilt from them
 * (`fromWire`). Under Node a test may pass either form: `buildWire()` of the
 * test builder goes through the glue as the host's would, and a snapshot of
 * records (`build()`, whose `tasks` is an array) is passed on as it is.
 * @param {(s: Snapshot) => Decision} decide
 * @param {{name: string, version: string, host?: Host, params?: ParamSpec[]}} options
 */
export function exportPolicy(decide, { name, version, host: h, params = [] }) {
  if (h) host = h;
  const declared = params.map((p) => ({ ...p }));
  return {
    /** @returns {PolicyInfo} */
    info() {
      return { name, version, params: declared.map((p) => ({ ...p })) };
    },
    /**
     * @param {WireSnapshot | Snapshot} snapshot
     * @returns {Decision}
     */
    decide(snapshot) {
      try {
        const s = Array.isArray(snapshot.tasks) ? /** @type {Snapshot} */ (snapshot) : fromWire(/** @type {WireSnapshot} */ (snapshot));
        return check(decide(s));
      } catch (e) {
        // componentize-qjs turns a thrown string into the result's error.
        throw faultMessage(e);
      }
    },
  };
}
