//! Each workload shape's rate at a few times, and invalid shapes refused.

use std::time::Duration;

use crate::sim::Workload;

fn rate(w: Workload, t: u64) -> f64 {
    w.load().expect("loads").rate_per_min(t)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

const H: u64 = 3600;

#[test]
fn steady_and_step() {
    assert!(close(rate(Workload::Steady { per_min: 7.5 }, 123_456), 7.5));
    let step = Workload::Step {
        before_per_min: 2.0,
        after_per_min: 9.0,
        at: Duration::from_secs(600),
    };
    assert!(close(rate(step.clone(), 599), 2.0));
    assert!(close(rate(step.clone(), 600), 9.0));
    assert!(close(rate(step, 10 * H), 9.0));
}

#[test]
fn diurnal_peaks_at_peak_at_and_troughs_twelve_hours_later() {
    let w = Workload::Diurnal {
        peak_per_min: 40.0,
        trough_per_min: 4.0,
        peak_at: Duration::from_secs(14 * H),
    };
    assert!(close(rate(w.clone(), 14 * H), 40.0));
    assert!(close(rate(w.clone(), 2 * H), 4.0));
    assert!(
        close(rate(w.clone(), 8 * H), 22.0),
        "halfway between, six hours off the peak"
    );
    assert!(
        close(rate(w.clone(), 14 * H + 86_400 * 3), 40.0),
        "repeats daily"
    );
    let before = rate(w.clone(), 13 * H);
    let after = rate(w, 15 * H);
    assert!(close(before, after) && before < 40.0 && before > 22.0);
}

#[test]
fn spike_jumps_holds_and_decays() {
    let w = Workload::Spike {
        base_per_min: 5.0,
        peak_per_min: 105.0,
        at: Duration::from_secs(H),
        hold: Duration::from_secs(600),
        decay: Duration::from_secs(600),
    };
    assert!(close(rate(w.clone(), H - 1), 5.0));
    assert!(close(rate(w.clone(), H), 105.0));
    assert!(close(rate(w.clone(), H + 599), 105.0));
    assert!(close(rate(w.clone(), H + 600), 105.0));
    assert!(close(
        rate(w.clone(), H + 1200),
        5.0 + 100.0 * (-1.0f64).exp()
    ));
    assert!(rate(w, H + 100 * 600) < 5.0 + 1e-9);
}

#[test]
fn ramp_is_linear_between_its_ends() {
    let w = Workload::Ramp {
        from_per_min: 10.0,
        to_per_min: 30.0,
        start: Duration::from_secs(H),
        duration: Duration::from_secs(2 * H),
    };
    assert!(close(rate(w.clone(), 0), 10.0));
    assert!(close(rate(w.clone(), 2 * H), 20.0));
    assert!(close(rate(w.clone(), 3 * H), 30.0));
    assert!(close(rate(w, 9 * H), 30.0));
}

#[test]
fn sawtooth_rises_and_drops_each_period() {
    let w = Workload::Sawtooth {
        low_per_min: 0.0,
        high_per_min: 60.0,
        period: Duration::from_secs(H),
    };
    assert!(close(rate(w.clone(), 0), 0.0));
    assert!(close(rate(w.clone(), H / 2), 30.0));
    assert!(close(rate(w.clone(), H - 60), 59.0));
    assert!(close(rate(w.clone(), H), 0.0));
    assert!(close(rate(w, 5 * H + H / 4), 15.0));
}

#[test]
fn invalid_shapes_are_refused_with_their_field() {
    let err = Workload::Diurnal {
        peak_per_min: 1.0,
        trough_per_min: 2.0,
        peak_at: Duration::ZERO,
    }
    .load()
    .expect_err("peak below trough")
    .to_string();
    assert!(err.contains("`workload.peak_per_min`"), "{err}");
    let err = Workload::Sawtooth {
        low_per_min: 1.0,
        high_per_min: 2.0,
        period: Duration::ZERO,
    }
    .load()
    .expect_err("zero period")
    .to_string();
    assert!(err.contains("`workload.period`"), "{err}");
    let err = Workload::Spike {
        base_per_min: 1.0,
        peak_per_min: f64::INFINITY,
        at: Duration::ZERO,
        hold: Duration::ZERO,
        decay: Duration::ZERO,
    }
    .load()
    .expect_err("infinite")
    .to_string();
    assert!(err.contains("`workload.peak_per_min`"), "{err}");
}
