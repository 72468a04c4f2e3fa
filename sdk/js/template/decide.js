// @ts-check
/**
 * A policy in JavaScript: `autoscaler policy new NAME --lang js` starts your
 * own from this one (see sdk/js/README.md).
 *
 * Keeps service CPU inside a band: one more task when CPU is over `cpu-high`;
 * when CPU has stayed under `cpu-low` for `scale-in-window` seconds, one task
 * fewer, drained through an idle task. Change `decide` to your liking: it gets
 * the snapshot and returns `hold(...)` or `scaleTo(...)`, or throws a
 * PolicyError to refuse the snapshot.
 *
 * Parameters (all optional): `cpu-high` (75), `cpu-low` (30), `scale-in-window` (300).
 */

import {
  PolicyError,
  cpuBelowFor,
  effectiveDesired,
  hold,
  idleTasks,
  log,
  paramF64,
  scaleTo,
} from "autoscaler-sdk";

/** @typedef {import("autoscaler-sdk").Snapshot} Snapshot */
/** @typedef {import("autoscaler-sdk").Decision} Decision */

/**
 * @param {Snapshot} s
 * @returns {Decision}
 */
export function decide(s) {
  const high = paramF64(s, "cpu-high") ?? 75;
  const low = paramF64(s, "cpu-low") ?? 30;
  const window = Math.trunc(Math.max(paramF64(s, "scale-in-window") ?? 300, 0));
  if (low >= high) throw new PolicyError("parameter cpu-low must be below cpu-high");
  if (s.cpu == null) return hold("CPU is not reported yet.");

  const current = effectiveDesired(s);
  // toFixed is fine for a new policy; a port of a Rust policy uses fmtFixed to word reasons alike.
  if (s.cpu > high) {
    return scaleTo(current + 1, `CPU ${s.cpu.toFixed(1)}% is over ${high.toFixed(0)}%; ${current} -> ${current + 1} tasks.`);
  }

  // Scale in only with fresh session counts, after a quiet window, through idle tasks.
  if (s.sessionsKnown && cpuBelowFor(s, low, window) && current > Math.max(s.min, 1)) {
    const idle = idleTasks(s).map((t) => t.handle);
    if (idle.length > 0) {
      log.info(`CPU has been under ${low.toFixed(0)}% for ${window}s; draining one of ${idle.length} idle tasks`);
      return scaleTo(current - 1, `CPU under ${low.toFixed(0)}% for ${window}s; ${current} -> ${current - 1} tasks.`, idle);
    }
  }
  return hold(`CPU ${s.cpu.toFixed(1)}% is within its band.`);
}
