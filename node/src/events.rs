//! The node's JSONL event stream on stdout: one JSON object per line, each with
//! `unix_ms` (wall clock, so the driver can align it with its own samples) and `event`.
//!
//! Events: `node_start`, `recovery`, `wal_torn_tail`, `orphan_removed`, `ready`,
//! `flush_start`, `flush_end`, `compaction_start`, `compaction_end`, `stats`,
//! `node_summary`, `error`.

use std::io::{self, Write};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// A thread-safe JSONL writer; each line is flushed at once so the driver sees events
/// live and a crash loses none that were emitted.
pub struct Events {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Events {
    pub fn stdout() -> Events {
        Events { out: Mutex::new(Box::new(io::stdout())) }
    }

    pub fn to_writer(w: impl Write + Send + 'static) -> Events {
        Events { out: Mutex::new(Box::new(w)) }
    }

    /// Emits `{"unix_ms":…, "event": name, …fields}`; `fields` must be a JSON object.
    pub fn emit(&self, name: &str, fields: Value) {
        let mut line = Map::new();
        line.insert("unix_ms".into(), Value::from(unix_ms()));
        line.insert("event".into(), Value::from(name));
        if let Value::Object(f) = fields {
            line.extend(f);
        }
        let text = Value::Object(line).to_string();
        // A closed stdout (driver gone) must not kill the node mid-write: ignore errors.
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{text}").and_then(|_| out.flush());
        }
    }
}

pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
