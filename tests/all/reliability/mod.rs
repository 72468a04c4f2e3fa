//! Reliability under faults, crashes and bad input. RELIABILITY.md at the
//! repository root maps each guarantee to the tests here that prove it.
//!
//! - [`property`]: random scenarios and fault mixes through the real daemon;
//! - [`crash`]: the host dies at every journal write of a drain and restarts;
//! - [`input`]: decisions and snapshot JSON, arbitrary, mutated and valid;
//! - [`stale`]: the session store down and metrics missing, through the daemon;
//! - [`fallback`]: a policy that keeps faulting, and the fallback that decides instead;
//! - [`late_session`]: a session reported late aborts its task's drain;
//! - [`roll_back`]: a protection call that fails for good: bounded roll-backs, freed slots, a pause;
//! - [`plan`]: a `[provider.faults]` table reaches the daemon's provider;
//! - [`harness`]: the shared components, an in-memory daemon and the invariants;

mod crash;
mod fallback;
mod harness;
mod input;
mod late_session;
mod plan;
mod property;
mod roll_back;
mod stale;
