//! The batch engine: every command that answers many references at once runs them
//! here. References are grouped in lanes (one per registry), each lane served by
//! workers of its own, so that a registry that never answers, or asks to slow down,
//! holds up only its own references; answers are handed on in the order asked, each
//! as soon as it and every one before it are known. A reference is a batch of one.
//!
//! Per-reference concerns (its deadline, counted from when it starts; the registry's
//! first contact going alone, [`crate::registries::Registries::turn`]) belong to the
//! work function; the engine only schedules.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use anyhow::Result;

/// The most worker threads a batch starts (lanes served at once × jobs per lane;
/// lanes over HTTP/2 may take up to as many again, see [`Jobs::Auto`]).
pub const MAX_THREADS: usize = 256;

/// A lane's references at once over HTTP/1.1 ([`Jobs::Auto`]): each one a connection.
pub const HTTP1_JOBS: usize = 8;

/// A lane's references at once where its registry multiplexes ([`Jobs::Auto`]): each
/// one a stream of the same connection.
pub const HTTP2_JOBS: usize = 64;

/// Whether a lane's registry carries many requests at once on one connection (HTTP/2),
/// as far as the run has learnt.
pub(crate) type Multiplexed = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// How many references of a lane are worked on at once.
#[derive(Clone)]
pub enum Jobs {
    /// This many in every lane (`--jobs N`).
    Fixed(usize),
    /// As the lane's registry carries them, asked once its first reference is answered:
    /// `http2` where it multiplexes, else `http1` ([`HTTP2_JOBS`] and [`HTTP1_JOBS`]
    /// unless a command's requests are cheaper, see [`Jobs::over_http1`]).
    Auto {
        /// A lane's references at once over HTTP/1.1.
        http1: usize,
        /// A lane's references at once over HTTP/2.
        http2: usize,
        /// Whether a lane multiplexes.
        multiplexed: Multiplexed,
    },
}

impl From<usize> for Jobs {
    fn from(n: usize) -> Jobs {
        Jobs::Fixed(n)
    }
}

impl Jobs {
    /// [`Jobs::Auto`] with the default widths.
    pub(crate) fn auto(multiplexed: Multiplexed) -> Jobs {
        Jobs::Auto {
            http1: HTTP1_JOBS,
            http2: HTTP2_JOBS,
            multiplexed,
        }
    }

    /// With `n` references at once over HTTP/1.1 where the run chooses (for requests
    /// so cheap, `HEAD`s, that more connections pay); a fixed `--jobs` stays.
    pub fn over_http1(self, n: usize) -> Jobs {
        match self {
            Jobs::Auto {
                http2, multiplexed, ..
            } => Jobs::Auto {
                http1: n.max(1),
                http2: http2.max(n),
                multiplexed,
            },
            fixed => fixed,
        }
    }

    /// The jobs every lane gets, and the most one may get.
    fn bounds(&self) -> (usize, usize) {
        match self {
            Jobs::Fixed(n) => ((*n).max(1), (*n).max(1)),
            Jobs::Auto { http1, http2, .. } => ((*http1).max(1), (*http2).max(*http1).max(1)),
        }
    }

    /// The jobs of `lane`, once its first reference is answered.
    pub(crate) fn of_lane(&self, lane: &str) -> usize {
        match self {
            Jobs::Fixed(n) => (*n).max(1),
            Jobs::Auto {
                http2, multiplexed, ..
            } if multiplexed(lane) => (*http2).max(1),
            Jobs::Auto { http1, .. } => (*http1).max(1),
        }
    }
}

/// `one(i)` for every `i` in `0..lanes.len()`, where `lanes[i]` names the lane of item
/// `i` (its registry): each lane has `jobs` workers ([`Jobs`]), and at most
/// [`MAX_THREADS`]` / jobs` lanes are served at once (with [`Jobs::Auto`], `jobs` is
/// [`HTTP1_JOBS`] here; a lane over HTTP/2 takes more workers from a budget of
/// [`MAX_THREADS`] shared by the lanes). `each` gets every answer in
/// order, as soon as it and the answers before it are known; an `Err` of `each`
/// (stdout closed) stops the workers before their next item and is returned.
pub fn run<T: Send, L: AsRef<str>>(
    lanes: &[L],
    jobs: impl Into<Jobs>,
    one: impl Fn(usize) -> T + Sync,
    mut each: impl FnMut(usize, T) -> Result<()>,
) -> Result<()> {
    let jobs: Jobs = jobs.into();
    let (base, most) = jobs.bounds();
    // Workers beyond `base` that lanes over HTTP/2 may take between them.
    let extra = AtomicUsize::new(MAX_THREADS);
    // Items by lane, lanes in the order of their first item.
    let mut grouped: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut lane_at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, lane) in lanes.iter().enumerate() {
        let at = *lane_at.entry(lane.as_ref()).or_insert_with(|| {
            grouped.push((lane.as_ref(), Vec::new()));
            grouped.len() - 1
        });
        grouped[at].1.push(i);
    }
    drop(lane_at);
    let served_at_once = (MAX_THREADS / base).max(1);
    let slots = Slots::new(served_at_once);
    let stop = AtomicBool::new(false);
    let window = Window::new(
        lanes.len(),
        &grouped,
        2 * most * served_at_once.min(grouped.len()),
    );
    let (tx, rx) = std::sync::mpsc::channel::<(usize, T)>();
    std::thread::scope(|s| {
        for (lane, (name, items)) in grouped.iter().enumerate() {
            let tx = tx.clone();
            let (slots, stop, one, window) = (&slots, &stop, &one, &window);
            let (jobs, extra) = (&jobs, &extra);
            s.spawn(move || {
                let _slot = slots.take();
                window.state[lane].store(ACTIVE, Ordering::SeqCst);
                let _done = LaneDone(&window.state[lane]);
                // The lane's first item goes alone: what it learns of the registry
                // (scheme, challenge, token) serves the others, and the lane starts
                // in input order whatever the scheduler does.
                let Some((&first, rest)) = items.split_first() else {
                    return;
                };
                if stop.load(Ordering::Relaxed) || tx.send((first, one(first))).is_err() {
                    return;
                }
                let items = rest;
                // What the first item learnt says how many go at once now.
                let wanted = jobs.of_lane(name).min(items.len());
                let more = take_up_to(extra, wanted.saturating_sub(base));
                let _given_back = GiveBack(extra, more);
                let workers = wanted.min(base) + more;
                let next = AtomicUsize::new(0);
                std::thread::scope(|s| {
                    for _ in 0..workers {
                        let (tx, next) = (tx.clone(), &next);
                        s.spawn(move || {
                            while !stop.load(Ordering::Relaxed) {
                                let Some(&i) = items.get(next.fetch_add(1, Ordering::Relaxed))
                                else {
                                    break;
                                };
                                window.wait_for(i, stop);
                                if stop.load(Ordering::Relaxed) {
                                    break;
                                }
                                if tx.send((i, one(i))).is_err() {
                                    break;
                                }
                            }
                        });
                    }
                });
            });
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, T> = BTreeMap::new();
        let mut next = 0;
        for (i, answer) in &rx {
            waiting.insert(i, answer);
            while let Some(answer) = waiting.remove(&next) {
                if let Err(e) = each(next, answer) {
                    stop.store(true, Ordering::Relaxed);
                    window.printed(next);
                    return Err(e);
                }
                next += 1;
                window.printed(next);
            }
        }
        Ok(())
    })
}

/// Takes at most `n` from `budget`: what it took.
fn take_up_to(budget: &AtomicUsize, n: usize) -> usize {
    let mut taken = 0;
    let _ = budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
        taken = n.min(left);
        Some(left - taken)
    });
    taken
}

/// Gives workers back to the budget when a lane ends.
struct GiveBack<'a>(&'a AtomicUsize, usize);

impl Drop for GiveBack<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(self.1, Ordering::SeqCst);
    }
}

/// A lane waiting for a slot, served, or done.
const WAITING: u8 = 0;
const ACTIVE: u8 = 1;
const DONE: u8 = 2;

/// What bounds a batch's memory: an item starts only while it is fewer than `size`
/// ahead of the next answer to hand on, so at most `size` answers wait for those
/// before them, whatever the batch's length. Not while the lane of that next answer
/// waits for a slot: the lanes served then must go on, or none would ever free one.
struct Window {
    /// The next item to hand on.
    next: Mutex<usize>,
    moved: Condvar,
    size: usize,
    /// Each item's lane.
    lane_of: Vec<usize>,
    /// Each lane's [`WAITING`], [`ACTIVE`] or [`DONE`].
    state: Vec<std::sync::atomic::AtomicU8>,
}

impl Window {
    fn new(items: usize, grouped: &[(&str, Vec<usize>)], size: usize) -> Window {
        let mut lane_of = vec![0; items];
        for (lane, (_, its)) in grouped.iter().enumerate() {
            for &i in its {
                lane_of[i] = lane;
            }
        }
        Window {
            next: Mutex::new(0),
            moved: Condvar::new(),
            size: size.max(1),
            lane_of,
            state: grouped
                .iter()
                .map(|_| std::sync::atomic::AtomicU8::new(WAITING))
                .collect(),
        }
    }

    /// Waits until item `i` may start (or the batch stops).
    fn wait_for(&self, i: usize, stop: &AtomicBool) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        while i >= *next + self.size && !stop.load(Ordering::Relaxed) {
            let head_lane = self.lane_of.get(*next).copied().unwrap_or(0);
            if self.state[head_lane].load(Ordering::SeqCst) == WAITING {
                return;
            }
            // Woken when an answer is handed on; the timeout only re-reads the lanes.
            next = self
                .moved
                .wait_timeout(next, std::time::Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Every item before `next` has been handed on.
    fn printed(&self, next: usize) {
        *self.next.lock().unwrap_or_else(|e| e.into_inner()) = next;
        self.moved.notify_all();
    }
}

/// Marks its lane done when the lane's thread ends.
struct LaneDone<'a>(&'a std::sync::atomic::AtomicU8);

impl Drop for LaneDone<'_> {
    fn drop(&mut self) {
        self.0.store(DONE, Ordering::SeqCst);
    }
}

/// A counting semaphore: how many lanes are served at once.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot; it is given back when the guard drops.
    fn take(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Slot(self)
    }
}

/// A slot in use; given back on drop.
struct Slot<'a>(&'a Slots);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::run;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn a_lane_that_multiplexes_gets_more_workers_and_one_that_does_not_the_default() {
        use super::{HTTP1_JOBS, HTTP2_JOBS, Jobs};
        use std::sync::Arc;
        // The lane "h2" multiplexes, "h1" does not: at most 64 and 8 at once, and the
        // first more than 8 (each item sleeps long enough for every worker to start).
        for (lane, most) in [("h2", HTTP2_JOBS), ("h1", HTTP1_JOBS)] {
            let lanes: Vec<&str> = vec![lane; 200];
            let (now, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
            let jobs = Jobs::auto(Arc::new(|lane: &str| lane == "h2"));
            run(
                &lanes,
                jobs,
                |_| {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(40));
                    now.fetch_sub(1, Ordering::SeqCst);
                },
                |_, _| Ok(()),
            )
            .unwrap();
            let peak = peak.load(Ordering::SeqCst);
            assert!(peak <= most, "{lane}: {peak} at once, past {most}");
            if lane == "h2" {
                assert!(peak > HTTP1_JOBS, "h2: only {peak} at once");
            }
        }
    }

    #[test]
    fn answers_come_in_order_whatever_finishes_first() {
        // Later ones finish first; each is handed on in the order given.
        let lanes: Vec<String> = (0..40).map(|i| format!("r{}", i % 3)).collect();
        let mut seen = Vec::new();
        run(
            &lanes,
            4,
            |i| {
                std::thread::sleep(Duration::from_millis(((40 - i) % 7) as u64));
                i
            },
            |i, r| {
                assert_eq!(r, i);
                seen.push(i);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn a_lane_that_never_answers_holds_up_only_itself() {
        // Lane "slow" answers after the others have all been worked on: they are not
        // made to wait for it, though their lines are handed on after its first.
        let lanes: Vec<String> = ["slow", "fast", "fast", "fast", "slow"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let fast_done = AtomicUsize::new(0);
        let mut order = Vec::new();
        run(
            &lanes,
            1,
            |i| {
                if lanes[i] == "slow" {
                    // Waits until every fast item has been worked on.
                    while fast_done.load(Ordering::SeqCst) < 3 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                } else {
                    fast_done.fetch_add(1, Ordering::SeqCst);
                }
                i
            },
            |i, _| {
                order.push(i);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(order, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_lanes_first_item_goes_alone_and_first() {
        // Every other item of the lane starts after the first has ended.
        let lanes: Vec<String> = vec!["r".into(); 4];
        let events = std::sync::Mutex::new(Vec::new());
        run(
            &lanes,
            4,
            |i| {
                events.lock().unwrap().push(format!("start {i}"));
                if i == 0 {
                    std::thread::sleep(Duration::from_millis(30));
                    events.lock().unwrap().push("end 0".to_owned());
                }
            },
            |_, _| Ok(()),
        )
        .unwrap();
        let events = events.into_inner().unwrap();
        assert_eq!(events[..2], ["start 0", "end 0"], "{events:?}");
        assert_eq!(events.len(), 5);
    }

    #[test]
    fn each_lane_has_its_own_workers() {
        let lanes: Vec<String> = (0..12).map(|i| format!("r{}", i % 2)).collect();
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        run(
            &lanes,
            3,
            |_| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
            },
            |_, _| Ok(()),
        )
        .unwrap();
        // Two lanes of three workers: never more than six at once.
        assert!(most.into_inner() <= 6);
    }

    #[test]
    fn a_failing_consumer_stops_the_rest() {
        let done = AtomicUsize::new(0);
        let lanes = vec![String::new(); 100];
        let e = run(
            &lanes,
            3,
            |_| {
                done.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
            },
            |i, _| {
                if i == 5 {
                    anyhow::bail!("stdout closed")
                }
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "stdout closed");
        assert!(done.into_inner() < 100);
    }

    #[test]
    fn answers_waiting_for_a_slow_one_are_bounded_by_the_window() {
        // The first item is slow; a thousand fast ones behind it in the same lane
        // start only while fewer than 2 × jobs ahead of the next answer handed on.
        let lanes: Vec<String> = vec!["r".into(); 1000];
        let handed = AtomicUsize::new(0);
        let ahead = AtomicUsize::new(0);
        run(
            &lanes,
            2,
            |i| {
                if i == 1 {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let gap = i.saturating_sub(handed.load(Ordering::SeqCst));
                ahead.fetch_max(gap, Ordering::SeqCst);
                i
            },
            |i, _| {
                handed.store(i + 1, Ordering::SeqCst);
                Ok(())
            },
        )
        .unwrap();
        assert!(ahead.load(Ordering::SeqCst) < 4, "{ahead:?}");
    }

    #[test]
    fn many_lanes_and_a_small_window_never_deadlock() {
        // More lanes than are served at once, items interleaved: the lane of the next
        // answer may wait for a slot, and the served lanes go on meanwhile.
        let lanes: Vec<String> = (0..2000).map(|i| format!("r{}", i % 300)).collect();
        let mut n = 0;
        run(
            &lanes,
            64,
            |i| i,
            |_, _| {
                n += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n, 2000);
    }
}
