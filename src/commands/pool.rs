//! One worker pool for the commands that send many requests to a node
//! (`ingest` batches, `search --batch` queries): a few threads, each taking
//! the next item when it is free, results handed back to the calling thread
//! as they arrive.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// Runs one federated search per item with `workers` threads, a progress
/// bar, and the federation's rate limits waited out: a search refused as
/// over the partner's rate (`rate_limited`) is tried again after a growing
/// pause, up to six times, since a batch must live within the federation's
/// limits. `each` gets every answer, in the order they arrive.
pub(crate) fn search_all<T: Sync, R: Send, E: Send>(
    items: &[T],
    workers: usize,
    search: impl Fn(&T) -> Result<R, E> + Sync,
    rate_limited: impl Fn(&E) -> bool + Sync,
    mut each: impl FnMut(usize, Result<R, E>),
) {
    let progress = crate::commands::progress::progress_bar(items.len() as u64, "searching");
    let patient = |item: &T| {
        let mut attempt = 0;
        loop {
            match search(item) {
                Err(error) if attempt < 6 && rate_limited(&error) => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(500 * attempt));
                }
                answer => return answer,
            }
        }
    };
    run_pool(items, workers, patient, |index, answer| {
        progress.inc(1);
        each(index, answer);
        true
    });
    progress.finish_and_clear();
}

/// Runs `work` on every item with `workers` threads (at most `workers`
/// items in flight). `each` gets (index, result) on the calling thread, in
/// the order results arrive, and returns `false` to stop handing out items.
pub(crate) fn run_pool<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> R + Sync,
    mut each: impl FnMut(usize, R) -> bool,
) {
    let next = AtomicUsize::new(0);
    let stopped = AtomicBool::new(false);
    // A rendezvous channel: a worker hands its result over before it takes
    // the next item, so results never pile up and a stop is seen at once.
    let (sender, receiver) = mpsc::sync_channel::<(usize, R)>(0);
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            let sender = sender.clone();
            let (next, stopped, work) = (&next, &stopped, &work);
            scope.spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else {
                        return;
                    };
                    if sender.send((index, work(item))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(sender);
        for (index, result) in receiver {
            if !stopped.load(Ordering::Relaxed) && !each(index, result) {
                stopped.store(true, Ordering::Relaxed);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn every_item_is_worked_once() {
        let items: Vec<u32> = (0..100).collect();
        let mut seen = vec![0; items.len()];
        run_pool(
            &items,
            3,
            |item| item * 2,
            |index, doubled| {
                assert_eq!(doubled, items[index] * 2);
                seen[index] += 1;
                true
            },
        );
        assert!(seen.iter().all(|&count| count == 1), "{seen:?}");
    }

    #[test]
    fn a_stop_stops_handing_out_items() {
        let items: Vec<u32> = (0..1000).collect();
        let worked = AtomicUsize::new(0);
        let mut handled = 0;
        let workers = 4;
        run_pool(
            &items,
            workers,
            |item| {
                worked.fetch_add(1, Ordering::Relaxed);
                *item
            },
            |_, _| {
                handled += 1;
                handled < 5
            },
        );
        // After the stop, each worker finishes at most the item it holds and
        // one it took just before seeing the stop.
        let worked = worked.load(Ordering::Relaxed);
        assert!(
            worked <= 5 + 2 * workers,
            "worked {worked} items after a stop at 5"
        );
    }
}
