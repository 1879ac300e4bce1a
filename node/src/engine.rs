//! What the stats thread asks a storage engine (RocksDB, `--store rocksdb`): its memory
//! accounting, and when its background jobs start and stop.

use std::time::Instant;

use crate::events::{EngineJob, EngineMemory, Events, NodeEvent};

/// A storage engine that accounts for its own memory.
pub trait EngineProbe: Send + Sync {
    fn memory(&self) -> EngineMemory;
}

/// Turns polled counts of running flushes and compactions into start and end events
/// (a period during which at least one job of a kind runs).
#[derive(Default)]
pub struct JobWatch {
    flush: Option<Instant>,
    compaction: Option<Instant>,
}

impl JobWatch {
    /// Compares `m` with the last poll and emits what changed.
    pub fn observe(&mut self, m: &EngineMemory, events: &Events) {
        let now = Instant::now();
        for (kind, running, since) in [
            (EngineJob::Flush, m.flushes_running, &mut self.flush),
            (EngineJob::Compaction, m.compactions_running, &mut self.compaction),
        ] {
            match (running > 0, *since) {
                (true, None) => {
                    *since = Some(now);
                    events.emit(NodeEvent::EngineJobStart { kind });
                }
                (false, Some(started)) => {
                    *since = None;
                    let duration_ms = now.duration_since(started).as_secs_f64() * 1e3;
                    events.emit(NodeEvent::EngineJobEnd { kind, duration_ms });
                }
                _ => {}
            }
        }
    }

    /// Ends every open period (the session is over).
    pub fn finish(&mut self, events: &Events) {
        self.observe(&EngineMemory::default(), events);
    }
}
