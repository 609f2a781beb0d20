//! A generic batching loader: per-epoch seeded shuffling, batches, `drop_last`, a pool of
//! worker threads preparing batches ahead of the consumer (bounded prefetch), and a resumable
//! position so an interrupted run continues with exactly the batches it had not yet consumed.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

use super::error::{DataError, Result};
use super::rng::SplitMix64;

/// Loader settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderConfig {
    /// Items per batch (≥ 1).
    pub batch_size: usize,
    /// Shuffle the items each epoch (the order depends only on `seed` and the epoch).
    pub shuffle: bool,
    /// Drop the last, smaller batch of an epoch.
    pub drop_last: bool,
    /// Shuffling seed.
    pub seed: u64,
    /// Worker threads preparing batches; 0 prepares them on the consumer's thread.
    pub num_workers: usize,
    /// How many batches may be prepared ahead of the consumer (≥ 1 is used).
    pub prefetch: usize,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            batch_size: 1,
            shuffle: true,
            drop_last: false,
            seed: 0,
            num_workers: 0,
            prefetch: 2,
        }
    }
}

/// Where a loader stands: the next batch it will yield is batch `batch` of epoch `epoch`.
/// Save it with a checkpoint and [`DataLoader::seek`] to it on resume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LoaderPosition {
    /// Epoch (0-based).
    pub epoch: u64,
    /// Batch index within the epoch (0-based).
    pub batch: usize,
}

/// One prepared batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<P> {
    /// Epoch it belongs to.
    pub epoch: u64,
    /// Its index within the epoch.
    pub index: usize,
    /// Indices of its items in the loader's item list, in batch order.
    pub indices: Vec<usize>,
    /// The prepared items, in batch order.
    pub items: Vec<P>,
}

type MapFn<T, P> = dyn Fn(usize, &T) -> Result<P> + Send + Sync;

/// Batches over a `Vec<T>`, preparing each item into a `P` with a map function.
pub struct DataLoader<T, P> {
    items: Arc<Vec<T>>,
    map: Arc<MapFn<T, P>>,
    config: LoaderConfig,
    position: LoaderPosition,
}

impl<T, P> std::fmt::Debug for DataLoader<T, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataLoader")
            .field("items", &self.items.len())
            .field("config", &self.config)
            .field("position", &self.position)
            .finish()
    }
}

impl<T: Send + Sync + 'static, P: Send + 'static> DataLoader<T, P> {
    /// A loader at position (0, 0); `map(index, item)` prepares an item (on a worker thread
    /// when `num_workers > 0`). Errors if `batch_size` is 0.
    pub fn new<F>(items: Vec<T>, config: LoaderConfig, map: F) -> Result<Self>
    where
        F: Fn(usize, &T) -> Result<P> + Send + Sync + 'static,
    {
        if config.batch_size == 0 {
            return Err(DataError::Config("batch_size must be at least 1".into()));
        }
        Ok(Self {
            items: Arc::new(items),
            map: Arc::new(map),
            config,
            position: LoaderPosition::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True if there are no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Batches per epoch (the last partial one counted unless `drop_last`).
    pub fn batches_per_epoch(&self) -> usize {
        let (n, b) = (self.items.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The item indices of every batch of `epoch` (a pure function of seed and epoch).
    pub fn batch_indices(&self, epoch: u64) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        if self.config.shuffle {
            SplitMix64::derive(self.config.seed, epoch).shuffle(&mut order);
        }
        order
            .chunks(self.config.batch_size)
            .take(self.batches_per_epoch())
            .map(<[usize]>::to_vec)
            .collect()
    }

    /// The next batch to be yielded.
    pub fn position(&self) -> LoaderPosition {
        self.position
    }

    /// Moves to `pos` (e.g. a checkpoint's); `batch == batches_per_epoch` means the start of
    /// the next epoch. Errors if `batch` is past the end of the epoch.
    pub fn seek(&mut self, pos: LoaderPosition) -> Result<()> {
        let n = self.batches_per_epoch();
        if pos.batch > n {
            return Err(DataError::Config(format!(
                "loader position batch {} is past the epoch's {n} batches",
                pos.batch
            )));
        }
        self.position = if pos.batch == n && n > 0 {
            LoaderPosition {
                epoch: pos.epoch + 1,
                batch: 0,
            }
        } else {
            pos
        };
        Ok(())
    }

    /// Iterates the remaining batches of the current epoch in order, advancing the position as
    /// each batch is yielded (to the next epoch after the last one). After an error the
    /// iterator ends and the position stays at the failed batch.
    pub fn epoch(&mut self) -> Result<Epoch<'_, P>> {
        let epoch = self.position.epoch;
        let batches = Arc::new(self.batch_indices(epoch));
        let start = self.position.batch.min(batches.len());
        let end = batches.len();
        let source = if self.config.num_workers == 0 || start >= end {
            Source::Inline {
                run: inline_runner(self.items.clone(), self.map.clone(), batches.clone()),
            }
        } else {
            Source::Pool(Pool::spawn(
                self.items.clone(),
                self.map.clone(),
                batches.clone(),
                start,
                self.config.num_workers.min(end - start),
                self.config.prefetch.max(1),
            )?)
        };
        if start >= end {
            self.position = LoaderPosition {
                epoch: epoch + 1,
                batch: 0,
            };
        }
        Ok(Epoch {
            position: &mut self.position,
            epoch,
            batches,
            next: start,
            end,
            source,
            done: start >= end,
        })
    }
}

type BatchFn<P> = Box<dyn Fn(usize) -> Result<Vec<P>> + Send>;

fn inline_runner<T: Send + Sync + 'static, P: Send + 'static>(
    items: Arc<Vec<T>>,
    map: Arc<MapFn<T, P>>,
    batches: Arc<Vec<Vec<usize>>>,
) -> BatchFn<P> {
    Box::new(move |k| prepare(&items, &*map, &batches[k]))
}

fn prepare<T, P>(items: &[T], map: &MapFn<T, P>, indices: &[usize]) -> Result<Vec<P>> {
    indices
        .iter()
        .map(|&i| match items.get(i) {
            Some(item) => map(i, item),
            None => Err(DataError::Prepare {
                item: i,
                reason: "index out of range".into(),
            }),
        })
        .collect()
}

enum Source<P> {
    Inline { run: BatchFn<P> },
    Pool(Pool<P>),
}

/// The batches of one epoch; see [`DataLoader::epoch`].
pub struct Epoch<'a, P> {
    position: &'a mut LoaderPosition,
    epoch: u64,
    batches: Arc<Vec<Vec<usize>>>,
    next: usize,
    end: usize,
    source: Source<P>,
    done: bool,
}

impl<P> std::fmt::Debug for Epoch<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Epoch")
            .field("epoch", &self.epoch)
            .field("next", &self.next)
            .field("end", &self.end)
            .finish()
    }
}

impl<P> Epoch<'_, P> {
    /// The loader position after the batches yielded so far (what to save in a checkpoint).
    pub fn position(&self) -> LoaderPosition {
        *self.position
    }
}

impl<P: Send + 'static> Iterator for Epoch<'_, P> {
    type Item = Result<Batch<P>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.next >= self.end {
            return None;
        }
        let k = self.next;
        let result = match &mut self.source {
            Source::Inline { run } => run(k),
            Source::Pool(pool) => pool.take(k),
        };
        match result {
            Ok(items) => {
                self.next += 1;
                *self.position = if self.next >= self.end {
                    self.done = true;
                    LoaderPosition {
                        epoch: self.epoch + 1,
                        batch: 0,
                    }
                } else {
                    LoaderPosition {
                        epoch: self.epoch,
                        batch: self.next,
                    }
                };
                Some(Ok(Batch {
                    epoch: self.epoch,
                    index: k,
                    indices: self.batches[k].clone(),
                    items,
                }))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Shared scheduling state: workers may take batch `k` only while `k < consumed + depth`.
struct Window {
    next_to_take: usize,
    consumed: usize,
    end: usize,
    depth: usize,
    cancelled: bool,
}

type Shared = Arc<(Mutex<Window>, Condvar)>;

fn lock(shared: &Shared) -> MutexGuard<'_, Window> {
    shared.0.lock().unwrap_or_else(|e| e.into_inner())
}

struct Pool<P> {
    rx: Option<Receiver<(usize, Result<Vec<P>>)>>,
    shared: Shared,
    handles: Vec<JoinHandle<()>>,
    pending: BTreeMap<usize, Result<Vec<P>>>,
}

impl<P: Send + 'static> Pool<P> {
    fn spawn<T: Send + Sync + 'static>(
        items: Arc<Vec<T>>,
        map: Arc<MapFn<T, P>>,
        batches: Arc<Vec<Vec<usize>>>,
        start: usize,
        workers: usize,
        depth: usize,
    ) -> Result<Self> {
        let (tx, rx) = sync_channel(depth);
        let shared: Shared = Arc::new((
            Mutex::new(Window {
                next_to_take: start,
                consumed: start,
                end: batches.len(),
                depth,
                cancelled: false,
            }),
            Condvar::new(),
        ));
        let mut pool = Self {
            rx: Some(rx),
            shared: shared.clone(),
            handles: Vec::with_capacity(workers),
            pending: BTreeMap::new(),
        };
        for w in 0..workers {
            let (items, map, batches, shared, tx) = (
                items.clone(),
                map.clone(),
                batches.clone(),
                shared.clone(),
                tx.clone(),
            );
            let handle = std::thread::Builder::new()
                .name(format!("data-loader-{w}"))
                .spawn(move || worker(&items, &*map, &batches, &shared, &tx))
                .map_err(|e| DataError::Worker(format!("cannot start a worker thread: {e}")))?;
            pool.handles.push(handle);
        }
        Ok(pool)
    }

    /// Waits for batch `k`, keeping batches that arrive early, then lets workers move on.
    fn take(&mut self, k: usize) -> Result<Vec<P>> {
        let result = loop {
            if let Some(r) = self.pending.remove(&k) {
                break r;
            }
            let Some(rx) = &self.rx else {
                break Err(DataError::Worker("loader pool already stopped".into()));
            };
            match rx.recv() {
                Ok((i, r)) => {
                    self.pending.insert(i, r);
                }
                Err(_) => break Err(DataError::Worker("all workers exited".into())),
            }
        };
        let mut w = lock(&self.shared);
        w.consumed = k + 1;
        drop(w);
        self.shared.1.notify_all();
        result
    }
}

impl<P> Drop for Pool<P> {
    fn drop(&mut self) {
        lock(&self.shared).cancelled = true;
        self.shared.1.notify_all();
        // Dropping the receiver unblocks workers waiting to send.
        self.rx = None;
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn worker<T, P>(
    items: &[T],
    map: &MapFn<T, P>,
    batches: &[Vec<usize>],
    shared: &Shared,
    tx: &SyncSender<(usize, Result<Vec<P>>)>,
) {
    loop {
        let k = {
            let mut w = lock(shared);
            while !w.cancelled && w.next_to_take < w.end && w.next_to_take >= w.consumed + w.depth {
                w = shared.1.wait(w).unwrap_or_else(|e| e.into_inner());
            }
            if w.cancelled || w.next_to_take >= w.end {
                return;
            }
            w.next_to_take += 1;
            w.next_to_take - 1
        };
        let result = catch_unwind(AssertUnwindSafe(|| prepare(items, map, &batches[k])))
            .unwrap_or_else(|payload| {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                Err(DataError::Worker(format!("batch {k} panicked: {msg}")))
            });
        if tx.send((k, result)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loader(n: usize, cfg: LoaderConfig) -> Result<DataLoader<usize, usize>> {
        DataLoader::new((0..n).collect(), cfg, |_, &x| Ok(x * 10))
    }

    fn collect(l: &mut DataLoader<usize, usize>) -> Result<Vec<Vec<usize>>> {
        l.epoch()?.map(|b| b.map(|b| b.items)).collect()
    }

    #[test]
    fn counts_and_drop_last() -> Result<()> {
        let cfg = LoaderConfig {
            batch_size: 3,
            ..LoaderConfig::default()
        };
        assert_eq!(loader(10, cfg)?.batches_per_epoch(), 4);
        let mut l = loader(
            10,
            LoaderConfig {
                drop_last: true,
                ..cfg
            },
        )?;
        assert_eq!(l.batches_per_epoch(), 3);
        let b = collect(&mut l)?;
        assert!(b.iter().all(|b| b.len() == 3));
        assert_eq!(l.position(), LoaderPosition { epoch: 1, batch: 0 });
        assert!(
            loader(
                3,
                LoaderConfig {
                    batch_size: 0,
                    ..cfg
                }
            )
            .is_err()
        );
        Ok(())
    }

    #[test]
    fn shuffle_is_a_function_of_seed_and_epoch() -> Result<()> {
        let cfg = LoaderConfig {
            batch_size: 4,
            seed: 3,
            ..LoaderConfig::default()
        };
        let a = loader(50, cfg)?;
        assert_eq!(a.batch_indices(2), loader(50, cfg)?.batch_indices(2));
        assert_ne!(a.batch_indices(0), a.batch_indices(1));
        let mut flat: Vec<usize> = a.batch_indices(5).concat();
        flat.sort_unstable();
        assert_eq!(flat, (0..50).collect::<Vec<_>>());
        let plain = loader(
            5,
            LoaderConfig {
                shuffle: false,
                batch_size: 2,
                ..cfg
            },
        )?;
        assert_eq!(
            plain.batch_indices(9),
            vec![vec![0, 1], vec![2, 3], vec![4]]
        );
        Ok(())
    }

    #[test]
    fn workers_match_inline_and_early_drop_does_not_hang() -> Result<()> {
        let cfg = LoaderConfig {
            batch_size: 3,
            seed: 1,
            ..LoaderConfig::default()
        };
        let want = collect(&mut loader(40, cfg)?)?;
        let pooled = LoaderConfig {
            num_workers: 3,
            prefetch: 2,
            ..cfg
        };
        assert_eq!(collect(&mut loader(40, pooled)?)?, want);
        let mut l = loader(40, pooled)?;
        let first = l.epoch()?.next().transpose()?.map(|b| b.items);
        assert_eq!(first.as_ref(), want.first());
        assert_eq!(l.position(), LoaderPosition { epoch: 0, batch: 1 });
        Ok(())
    }

    #[test]
    fn errors_and_panics_surface() -> Result<()> {
        for workers in [0, 2] {
            let cfg = LoaderConfig {
                batch_size: 2,
                shuffle: false,
                num_workers: workers,
                ..LoaderConfig::default()
            };
            let mut l = DataLoader::new((0..10usize).collect(), cfg, |i, &x| {
                if x == 5 {
                    Err(DataError::Prepare {
                        item: i,
                        reason: "bad".into(),
                    })
                } else if x == 9 {
                    panic!("boom");
                } else {
                    Ok(x)
                }
            })?;
            let got: Vec<_> = l.epoch()?.collect();
            assert_eq!(got.len(), 3, "workers {workers}");
            assert!(matches!(got[2], Err(DataError::Prepare { item: 5, .. })));
            assert_eq!(l.position(), LoaderPosition { epoch: 0, batch: 2 });
        }
        let cfg = LoaderConfig {
            batch_size: 5,
            shuffle: false,
            num_workers: 2,
            ..LoaderConfig::default()
        };
        let mut l = DataLoader::new((0..10usize).collect(), cfg, |_, &x| {
            if x == 9 { panic!("boom") } else { Ok(x) }
        })?;
        let got: Vec<_> = l.epoch()?.collect();
        assert!(
            matches!(&got[1], Err(DataError::Worker(m)) if m.contains("boom")),
            "{got:?}"
        );
        Ok(())
    }
}
