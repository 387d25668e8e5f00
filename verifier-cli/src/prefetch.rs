//! Bounded parallel prefetch: reads (tiles, bundles) run on a few threads ahead
//! of the consumer, and their results are handed over in order. At most `window`
//! results exist at once (being fetched or waiting to be consumed), so memory is
//! bounded by `window` items whatever the size of the log; and since results are
//! consumed in order, a failure is seen exactly where a sequential read would see
//! it (`replay --resume` records the same progress).

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};

/// How many reads run at once, and how far ahead of the consumer they may go.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Threads fetching at once (at least 1).
    pub jobs: usize,
    /// Results fetched or being fetched, not yet consumed (at least `jobs`).
    pub ahead: usize,
}

impl Window {
    /// `jobs` readers, each at most one result ahead of the consumer beyond
    /// its current read: `ahead = 2·jobs`.
    pub fn new(jobs: usize) -> Window {
        let jobs = jobs.max(1);
        Window {
            jobs,
            ahead: 2 * jobs,
        }
    }
}

struct State<I, T> {
    items: I,
    /// Items taken from `items` (each has a sequence number below this).
    issued: u64,
    /// Results handed to the consumer.
    consumed: u64,
    /// `items` is exhausted.
    exhausted: bool,
    /// The consumer stopped: workers exit.
    stop: bool,
    done: BTreeMap<u64, T>,
}

/// Runs `fetch` over `items` on `window.jobs` threads, never more than
/// `window.ahead` results ahead of the consumer, and calls `consume` with the
/// results in the order of `items`. Stops at the first error of `consume`
/// (the fetches under way finish and are dropped).
///
/// # Errors
/// The first error `consume` returns.
pub fn in_order<K, T, E, I, F, C>(
    items: I,
    window: Window,
    fetch: F,
    mut consume: C,
) -> Result<(), E>
where
    I: Iterator<Item = K> + Send,
    T: Send,
    F: Fn(K) -> T + Sync,
    C: FnMut(T) -> Result<(), E>,
{
    let state = Mutex::new(State {
        items,
        issued: 0,
        consumed: 0,
        exhausted: false,
        stop: false,
        done: BTreeMap::new(),
    });
    let changed = Condvar::new();
    let ahead = window.ahead.max(window.jobs).max(1) as u64;
    std::thread::scope(|scope| {
        for _ in 0..window.jobs.max(1) {
            scope.spawn(|| worker(&state, &changed, ahead, &fetch));
        }
        let result = consume_all(&state, &changed, &mut consume);
        lock(&state).stop = true;
        changed.notify_all();
        result
    })
}

fn lock<S>(m: &Mutex<S>) -> std::sync::MutexGuard<'_, S> {
    // A worker that panicked poisons the lock; the scope re-raises its panic.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn worker<K, T, I: Iterator<Item = K>>(
    state: &Mutex<State<I, T>>,
    changed: &Condvar,
    ahead: u64,
    fetch: &impl Fn(K) -> T,
) {
    let mut s = lock(state);
    loop {
        if s.stop || s.exhausted {
            return;
        }
        if s.issued >= s.consumed + ahead {
            s = changed
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            continue;
        }
        let Some(item) = s.items.next() else {
            s.exhausted = true;
            drop(s);
            changed.notify_all();
            return;
        };
        let seq = s.issued;
        s.issued += 1;
        drop(s);
        let result = fetch(item);
        s = lock(state);
        s.done.insert(seq, result);
        changed.notify_all();
    }
}

fn consume_all<T, E, I>(
    state: &Mutex<State<I, T>>,
    changed: &Condvar,
    consume: &mut impl FnMut(T) -> Result<(), E>,
) -> Result<(), E> {
    loop {
        let mut s = lock(state);
        let next = loop {
            let seq = s.consumed;
            if let Some(t) = s.done.remove(&seq) {
                s.consumed += 1;
                break Some(t);
            }
            if s.exhausted && s.issued == seq {
                break None;
            }
            s = changed
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        };
        drop(s);
        changed.notify_all();
        match next {
            Some(t) => consume(t)?,
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn results_come_in_order_whatever_the_fetch_order() {
        for jobs in [1, 2, 7] {
            let mut got = Vec::new();
            in_order::<_, _, (), _, _, _>(
                0..500u64,
                Window::new(jobs),
                |i| {
                    // Later items finish first, often.
                    std::thread::sleep(std::time::Duration::from_micros((500 - i) % 7 * 50));
                    i * 3
                },
                |t| {
                    got.push(t);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(got, (0..500).map(|i| i * 3).collect::<Vec<_>>(), "{jobs}");
        }
    }

    #[test]
    fn no_more_than_the_window_is_fetched_ahead() {
        let fetched = AtomicU64::new(0);
        let window = Window { jobs: 3, ahead: 5 };
        let mut consumed = 0u64;
        in_order::<_, _, (), _, _, _>(
            0..200u64,
            window,
            |i| {
                fetched.fetch_add(1, Ordering::SeqCst);
                i
            },
            |i| {
                // Everything fetched so far is at most `ahead` past what the
                // consumer has taken (this one included).
                let f = fetched.load(Ordering::SeqCst);
                assert!(f <= consumed + 1 + 5, "{f} fetched, {consumed} consumed");
                assert_eq!(i, consumed);
                consumed += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(consumed, 200);
    }

    #[test]
    fn an_error_stops_at_its_place_and_later_items_are_not_all_fetched() {
        let fetched = AtomicU64::new(0);
        let mut seen = Vec::new();
        let r = in_order(
            0..10_000u64,
            Window::new(4),
            |i| {
                fetched.fetch_add(1, Ordering::SeqCst);
                if i == 17 { Err(i) } else { Ok(i) }
            },
            |t: Result<u64, u64>| {
                seen.push(t?);
                Ok(())
            },
        );
        assert_eq!(r, Err(17u64));
        assert_eq!(seen, (0..17).collect::<Vec<_>>());
        assert!(fetched.load(Ordering::SeqCst) <= 17 + 1 + 8);
    }

    #[test]
    fn nothing_to_fetch_is_fine() {
        let r = in_order::<u64, u64, (), _, _, _>(
            std::iter::empty(),
            Window::new(3),
            |i| i,
            |_| panic!("nothing to consume"),
        );
        assert_eq!(r, Ok(()));
    }
}
