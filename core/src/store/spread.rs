//! Pure CPU work on many items spread over the phone's cores (a phone has 4–8; the writer and
//! the network keep theirs): checking a page's snapshots, reading many people's records for
//! their projections. Results come back in the items' order.

use crate::error::{Error, Result};

/// The most threads one piece of work is spread over.
const MAX_THREADS: usize = 4;

/// `f` of every item, in order, on up to [`MAX_THREADS`] threads; on the calling thread alone
/// when there are fewer than `spread_from` items or one core. `what` names the work for the
/// error if a thread dies (callers isolate panics of their own per item).
pub(super) fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    spread_from: usize,
    what: &str,
    f: impl Fn(&T) -> R + Sync,
) -> Result<Vec<R>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(MAX_THREADS);
    if threads < 2 || items.len() < spread_from.max(2) {
        return Ok(items.iter().map(&f).collect());
    }
    let per_thread = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(per_thread)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        let mut all = Vec::with_capacity(items.len());
        for part in parts {
            let done = part
                .join()
                .map_err(|_| Error::Document(format!("{what} failed on one of its threads")))?;
            all.extend(done);
        }
        Ok(all)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_spread_or_not() {
        let items: Vec<u32> = (0..1_000).collect();
        for from in [1, 10_000] {
            let got = map_in_order(&items, from, "squaring", |n| n * n).unwrap();
            assert_eq!(got, items.iter().map(|n| n * n).collect::<Vec<_>>());
        }
        assert!(map_in_order(&Vec::<u32>::new(), 1, "nothing", |n| *n)
            .unwrap()
            .is_empty());
    }
}
