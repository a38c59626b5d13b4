//! The batch engine's core: many answers worked on at once, handed on in the order
//! asked, with memory bounded by the number of workers, not of answers.

use anyhow::Result;

/// `one(i)` for each `i` below `len`, `jobs` at a time, handed to `each` in order as
/// soon as those before are: at most twice `jobs` results wait in memory. An `Err` of
/// `each` stops the rest.
pub fn in_order<T: Send>(
    len: usize,
    jobs: usize,
    one: impl Fn(usize) -> T + Sync,
    mut each: impl FnMut(usize, T) -> Result<()>,
) -> Result<()> {
    use std::collections::BTreeMap;
    use std::sync::{Condvar, Mutex};
    let jobs = jobs.clamp(1, len.max(1));
    let window = jobs * 2;
    // The next to start, and how many have been handed to `each`.
    let progress = Mutex::new((0usize, 0usize));
    let moved = Condvar::new();
    let (tx, rx) = std::sync::mpsc::channel::<(usize, T)>();
    let stop = |progress: &Mutex<(usize, usize)>| {
        if let Ok(mut p) = progress.lock() {
            p.0 = len;
        }
        moved.notify_all();
    };
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (progress, moved, one) = (&progress, &moved, &one);
            s.spawn(move || {
                loop {
                    let i = {
                        let Ok(mut p) = progress.lock() else { break };
                        while p.0 < len && p.0 >= p.1 + window {
                            p = match moved.wait(p) {
                                Ok(p) => p,
                                Err(_) => return,
                            };
                        }
                        if p.0 >= len {
                            break;
                        }
                        p.0 += 1;
                        p.0 - 1
                    };
                    if tx.send((i, one(i))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, T> = BTreeMap::new();
        let mut next = 0;
        for (i, result) in &rx {
            waiting.insert(i, result);
            while let Some(result) = waiting.remove(&next) {
                if let Err(e) = each(next, result) {
                    stop(&progress);
                    return Err(e);
                }
                next += 1;
                if let Ok(mut p) = progress.lock() {
                    p.1 = next;
                }
                moved.notify_all();
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::in_order;

    #[test]
    fn answers_come_in_order_whatever_finishes_first() {
        // Later ones finish first; each is handed on in the order given, and no more
        // than twice the jobs wait at once.
        let started = std::sync::atomic::AtomicUsize::new(0);
        let mut seen = Vec::new();
        let mut most_ahead = 0;
        in_order(
            40,
            4,
            |i| {
                started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(((40 - i) % 7) as u64));
                i
            },
            |i, r| {
                assert_eq!(r, i);
                let ahead = started.load(std::sync::atomic::Ordering::SeqCst) - seen.len();
                most_ahead = most_ahead.max(ahead);
                seen.push(i);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
        assert!(most_ahead <= 8 + 1, "{most_ahead}");
    }

    #[test]
    fn a_failing_consumer_stops_the_rest() {
        let done = std::sync::atomic::AtomicUsize::new(0);
        let e = in_order(
            100,
            3,
            |_| {
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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
}
