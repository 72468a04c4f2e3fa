use super::*;
use crate::backtest::oracle::Oracle;

fn a(at: u64, duration: u64) -> SessionArrival {
    SessionArrival { at, duration }
}

fn run(capacity: u32, floor: u32, sessions: &[(u64, u64)], until: u64) -> Packing {
    let mut p = Packing::new(capacity, floor, 0);
    for &(at, d) in sessions {
        p.arrive(a(at, d));
    }
    p.advance_to(until);
    p
}

#[test]
fn a_session_goes_where_its_end_fits_best_and_whole_tasks_empty() {
    // Capacity 2, hand-computed:
    //   t=0   s1 [0,100)   -> opens A (A ends 100)
    //   t=0   s2 [0,1000)  -> A has room, ends before: A (A ends 1000, full)
    //   t=10  s3 [10,110)  -> no room: opens B (B ends 110)
    //   t=20  s4 [20,990)  -> B has room, ends 110 < 990: B (B ends 990, full)
    //   t=100 s1 ends: A has room (ends 1000)
    //   t=105 s5 [105,1005): A ends 1000, closest: A (full)
    //   t=110 s3 ends: B has room (ends 990)
    //   t=990 B empties, t=1005 A empties.
    let p = run(
        2,
        0,
        &[(0, 100), (0, 1000), (10, 100), (20, 970), (105, 900)],
        2000,
    );
    assert_eq!(p.task_seconds(), 1005 + (990 - 10));
    let f = p.figures(1.0, 0.0);
    assert_eq!((f.peak_tasks, f.tasks_opened), (2, 2));
}

#[test]
fn it_prefers_a_task_ending_at_or_after_the_new_session_over_one_ending_before() {
    // Capacity 3. A = {[0,500), [0,500), [1,500)} is full; B = {[2,2000)}.
    // At t=3 a session [3,400) fits in B (its end 2000 is after 400),
    // so no task opens for it.
    let p = run(
        3,
        0,
        &[(0, 500), (0, 500), (1, 499), (2, 1998), (3, 397)],
        3000,
    );
    assert_eq!(p.figures(1.0, 0.0).tasks_opened, 2);
    assert_eq!(p.task_seconds(), 500 + 1998);

    // Capacity 2. With only tasks ending before it, a session goes to
    // the one ending latest, rather than opening a task.
    let mut p = Packing::new(2, 0, 0);
    p.arrive(a(0, 1000)); // opens X
    p.arrive(a(0, 1000)); // X, now full
    p.arrive(a(0, 300)); // opens Y (ends 300)
    p.arrive(a(0, 1000)); // Y ends before it, but has room: Y, now full
    p.arrive(a(1, 50)); // no room: opens W
    p.advance_to(2000);
    assert_eq!(p.figures(1.0, 0.0).tasks_opened, 3);
    assert_eq!(p.task_seconds(), 1000 + 1000 + 50);

    // X ends 1000 and Y 300, both with room: a session ending 600 goes
    // to X (extending nothing), not to Y (the closest end, but before);
    // one ending 200 then goes to Y.
    let mut p = Packing::new(2, 0, 0);
    p.arrive(a(0, 1000)); // opens X
    p.arrive(a(0, 100)); // X, full until 100
    p.arrive(a(0, 300)); // opens Y
    p.arrive(a(150, 450)); // X
    p.arrive(a(160, 40)); // Y
    p.advance_to(2000);
    assert_eq!(p.figures(1.0, 0.0).tasks_opened, 2);
    assert_eq!(
        p.task_seconds(),
        1000 + 300,
        "placed on Y, it would be 1000 + 600"
    );
}

#[test]
fn online_placement_fills_the_fullest_task_with_room_knowing_no_end() {
    // Capacity 3, hand-computed:
    //   t=0  [0,1000), [0,50), [0,50) -> A, full until 50
    //   t=0  [0,100), [0,100)         -> B (A is full)
    //   t=60 A holds 1 session, B holds 2. A session [60,900) arrives:
    //   - online, it joins B, the fullest with room, and keeps B open
    //     to 900: 1000 + 900 task-seconds;
    //   - clairvoyant, it joins A, which ends after it anyway:
    //     1000 + 100.
    let place = |placement| {
        let mut p = Packing::with(placement, 3, 0, 0);
        for &(at, d) in &[(0, 1000), (0, 50), (0, 50), (0, 100), (0, 100), (60, 840)] {
            p.arrive(a(at, d));
        }
        p.advance_to(3000);
        (p.task_seconds(), p.figures(1.0, 0.0).tasks_opened)
    };
    assert_eq!(place(Placement::Fullest), (1000 + 900, 2));
    assert_eq!(place(Placement::ByDeparture), (1000 + 100, 2));

    // A task that empties stops at once, and is billed no more.
    let mut p = Packing::with(Placement::Fullest, 2, 0, 0);
    p.arrive(a(0, 100)); // opens A
    p.arrive(a(0, 300)); // A, full
    p.arrive(a(10, 50)); // opens B, which stops at 60
    p.arrive(a(100, 10)); // A holds [0,300) only: A
    p.advance_to(1000);
    assert_eq!(p.task_seconds(), 300 + 50);
    assert_eq!(p.figures(1.0, 0.0).tasks_opened, 2);
}

#[test]
fn the_floor_is_billed_and_a_closed_task_costs_nothing() {
    let p = run(10, 2, &[(100, 50)], 1000);
    assert_eq!(p.task_seconds(), 2 * 1000, "one session fits in the floor");
    let p = run(1, 1, &[(0, 10), (0, 10), (500, 10)], 1000);
    // Two tasks on [0,10), one (the floor) the rest of the time.
    assert_eq!(p.task_seconds(), 20 + 990);
    let f = p.figures(0.5, 1010.0 / 3600.0);
    assert_eq!(f.vs_oracle, 1.0);
    assert_eq!(f.peak_tasks, 2);
}

#[test]
fn it_never_beats_the_oracle_on_the_same_sessions() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
    let mut t = 0;
    let (mut o, mut p) = (Oracle::new(5, 1, 0), Packing::new(5, 1, 0));
    let mut online = Packing::with(Placement::Fullest, 5, 1, 0);
    for _ in 0..3000 {
        t += rng.random_range(0..40);
        let s = a(t, rng.random_range(1..4000));
        o.arrive(s);
        p.arrive(s);
        online.arrive(s);
    }
    for r in [&mut p, &mut online] {
        r.advance_to(t + 5000);
    }
    o.advance_to(t + 5000);
    for r in [&p, &online] {
        assert!(r.task_seconds() >= o.task_seconds());
        assert!(
            r.task_seconds() < 2 * o.task_seconds(),
            "{} vs {}",
            r.task_seconds(),
            o.task_seconds()
        );
    }
}
