// @ts-check
/**
 * The session-aware policy in JavaScript: the same decisions as the Rust one
 * (`policies/session-aware/src/lib.rs`), reasons included.
 *
 * Scale out on CPU, memory or sessions; scale in only through idle tasks, and
 * only after utilization has stayed low for a while.
 *
 * Parameters (all optional):
 * - `cpu-high` (75), `cpu-low` (30): CPU band in percent;
 * - `memory-high` (80), `memory-low` (40): memory band in percent;
 * - `session-capacity` (20): sessions one task can carry;
 * - `session-headroom` (0.8): fraction of capacity to fill before adding tasks;
 * - `scale-in-window` (600): seconds utilization must stay under the low marks.
 */

import {
  PolicyError,
  asU64,
  ceilU32,
  cpuBelowFor,
  effectiveDesired,
  fmax,
  fmtFixed,
  hold,
  idleTasks,
  log,
  memoryWindow,
  paramF64,
  saturatingSub,
  scaleTo,
  taskId,
  totalSessions,
  wrappingAddU32,
} from "autoscaler-sdk";

/** @typedef {import("autoscaler-sdk").Snapshot} Snapshot */
/** @typedef {import("autoscaler-sdk").Decision} Decision */

/** @param {Snapshot} s */
function readParams(s) {
  const p = {
    cpuHigh: paramF64(s, "cpu-high") ?? 75,
    cpuLow: paramF64(s, "cpu-low") ?? 30,
    memoryHigh: paramF64(s, "memory-high") ?? 80,
    memoryLow: paramF64(s, "memory-low") ?? 40,
    capacity: paramF64(s, "session-capacity") ?? 20,
    headroom: paramF64(s, "session-headroom") ?? 0.8,
    window: asU64(fmax(paramF64(s, "scale-in-window") ?? 600, 0)),
  };
  if (p.cpuLow >= p.cpuHigh || p.memoryLow >= p.memoryHigh) {
    throw new PolicyError("parameters cpu-low/memory-low must be below cpu-high/memory-high");
  }
  if (p.capacity < 1 || !(p.headroom >= 0.1 && p.headroom <= 1)) {
    throw new PolicyError("parameter session-capacity must be >= 1 and session-headroom within 0.1..=1");
  }
  return p;
}

/**
 * Decides from CPU, memory and sessions, as the original Lambda did.
 * @param {Snapshot} s
 * @returns {Decision}
 */
export function decide(s) {
  const p = readParams(s);
  const current = effectiveDesired(s);
  const sessions = totalSessions(s);
  // Tasks needed to keep every task under its session headroom.
  const forSessions = s.sessionsKnown ? ceilU32(sessions / (p.capacity * p.headroom)) : 0;

  const hotCpu = s.cpu != null && s.cpu > p.cpuHigh ? s.cpu : null;
  const hotMemory = s.memory != null && s.memory > p.memoryHigh ? s.memory : null;
  if (hotCpu !== null || hotMemory !== null || forSessions > current) {
    const midCpu = (p.cpuHigh + p.cpuLow) / 2;
    const midMemory = (p.memoryHigh + p.memoryLow) / 2;
    /** @param {number | null} util @param {number} mid */
    const by = (util, mid) => (util === null ? 0 : ceilU32((Math.max(current, 1) * util) / mid));
    const wanted = Math.max(wrappingAddU32(current, 1), by(hotCpu, midCpu), by(hotMemory, midMemory), forSessions);
    let why;
    if (hotCpu !== null) why = `CPU ${fmtFixed(hotCpu, 1)}% is over ${fmtFixed(p.cpuHigh, 0)}%`;
    else if (hotMemory !== null) why = `memory ${fmtFixed(hotMemory, 1)}% is over ${fmtFixed(p.memoryHigh, 0)}%`;
    else why = `${sessions} sessions need ${forSessions} tasks at ${fmtFixed(p.capacity * p.headroom, 0)} per task`;
    return scaleTo(wanted, `Scale out: ${why}; ${current} -> ${wanted} tasks.`);
  }

  if (!s.sessionsKnown) return hold("Session counts are unknown; not scaling in.");
  const quietCpu = cpuBelowFor(s, p.cpuLow, p.window);
  const quietMemory =
    (s.memory == null || s.memory < p.memoryLow) && memoryWindow(s, p.window).every(([, m]) => m < p.memoryLow);
  if (!(quietCpu && quietMemory)) return hold("Utilization is within its band.");
  const idle = idleTasks(s).map((t) => t.handle);
  const floor = Math.max(forSessions, s.min, 1);
  const wanted = Math.max(saturatingSub(current, idle.length), floor);
  if (wanted >= current) {
    return hold(`Utilization is low, but no idle task can go (${idle.length} idle, ${sessions} sessions).`);
  }
  const going = current - wanted;
  const names = idle.slice(0, Math.min(going, 5)).map((h) => taskId(h) ?? `handle ${h}`);
  const more = going > names.length ? ", ..." : "";
  log.info(`draining ${going} idle tasks: ${names.join(", ")}${more}`);
  return scaleTo(
    wanted,
    `Scale in: utilization under ${fmtFixed(p.cpuLow, 0)}% CPU for ${p.window}s; ${current} -> ${wanted} tasks through idle tasks.`,
    idle,
  );
}
