//! One worker pool for the commands that send many requests to a node
//! (`ingest` batches, `search --batch` queries): a few threads, each taking
//! the next item when it is free, results handed back to the calling thread
//! as they arrive.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

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
    let (sender, receiver) = mpsc::channel::<(usize, R)>();
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
    use super::*;

    #[test]
    fn every_item_is_worked_once_and_a_stop_stops_handing_out() {
        let items: Vec<u32> = (0..100).collect();
        let mut seen = vec![false; items.len()];
        run_pool(
            &items,
            3,
            |item| item * 2,
            |index, doubled| {
                assert_eq!(doubled, items[index] * 2);
                seen[index] = true;
                true
            },
        );
        assert!(seen.iter().all(|&seen| seen));

        let mut handled = 0;
        run_pool(
            &items,
            2,
            |item| *item,
            |_, _| {
                handled += 1;
                handled < 5
            },
        );
        assert!(
            handled < 10,
            "at most the items already in flight follow a stop: {handled}"
        );
    }
}
