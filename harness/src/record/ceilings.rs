//! The ceilings a run measured (disk probes, CPU probes: `config.json` `ceilings`) and
//! the efficiency computed from them: achieved ÷ the lower of the disk's rate for the
//! node's writes and reads per byte and the CPU ceiling. The probes themselves run in
//! `run/ceiling.rs`; see there for how the disk's rate is measured and modelled.

use std::io;

use anyhow::Result;
use serde::Serialize;

use crate::units::{round1, round3};

/// Bytes the mix reads per byte it writes: the node writes each ingested byte twice
/// (WAL, segment) and reads it once (compaction's read-back).
pub const MIXED_READ_PER_WRITTEN: f64 = 0.5;
/// The mix stands for the node's disk limit only if the node's reads-to-writes byte
/// ratio is within this fraction of [`MIXED_READ_PER_WRITTEN`]: a node that reads much
/// less (or more) than the mix loads the disk differently.
pub const MIXED_RATIO_TOLERANCE: f64 = 0.2;
/// One disk bandwidth measurement.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct DiskProbe {
    pub mib_per_s: f64,
    pub bytes: u64,
    pub secs: f64,
    pub batch_bytes: u64,
    /// Files written at once.
    pub streams: usize,
    pub fdatasyncs: u64,
    /// The files read back (O_DIRECT, 1 MiB reads, all streams at once): bandwidth,
    /// bytes and seconds. Absent in runs recorded before the probe read, and if the
    /// read-back failed (`read_error` says why; the write figure still counts).
    #[serde(default)]
    pub read_mib_per_s: Option<f64>,
    #[serde(default)]
    pub read_bytes: u64,
    #[serde(default)]
    pub read_secs: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
    /// The mix (writes and reads at once, reads held to [`MIXED_READ_PER_WRITTEN`] of
    /// the bytes written): absent in runs recorded before it, and if it failed
    /// (`mixed_error` says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixed: Option<MixedProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixed_error: Option<String>,
}

/// Writes and reads at once, in the node's proportions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct MixedProbe {
    pub write_mib_per_s: f64,
    pub read_mib_per_s: f64,
    pub write_bytes: u64,
    pub read_bytes: u64,
    /// From starting the threads to the last writer's end (its last fdatasync).
    pub secs: f64,
}

/// The node's pipeline throughput with the disk writer replaced by a null sink.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CpuProbe {
    pub blocks: u64,
    pub bytes: u64,
    pub secs: f64,
    pub blocks_per_s: f64,
    pub mib_per_s: f64,
}

/// Both disk probes and the CPU probe of one run; a probe that failed is `None` and
/// says why in `errors` (a failed probe never fails the run).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Ceilings {
    pub disk_before: Option<DiskProbe>,
    pub disk_after: Option<DiskProbe>,
    /// The fastest of `cpu_attempts`.
    pub cpu: Option<CpuProbe>,
    /// Every CPU probe that succeeded, in the order run.
    #[serde(default)]
    pub cpu_attempts: Vec<CpuProbe>,
    pub errors: Vec<String>,
}

impl Ceilings {
    /// Mean write bandwidth of the disk probes that succeeded.
    pub fn disk_mib_per_s(&self) -> Option<f64> {
        self.disk_mean(|p| Some(p.mib_per_s))
    }

    /// Mean read bandwidth of the disk probes that read.
    pub fn disk_read_mib_per_s(&self) -> Option<f64> {
        self.disk_mean(|p| p.read_mib_per_s)
    }

    /// Mean write and read bandwidth of the mixes that were measured.
    pub fn disk_mixed_mib_per_s(&self) -> Option<(f64, f64)> {
        self.disk_mean(|p| p.mixed.map(|m| m.write_mib_per_s))
            .zip(self.disk_mean(|p| p.mixed.map(|m| m.read_mib_per_s)))
    }

    /// Mean of `figure` over the disk probes (before, after) that have it.
    fn disk_mean(&self, figure: impl Fn(&DiskProbe) -> Option<f64>) -> Option<f64> {
        let v: Vec<f64> = [&self.disk_before, &self.disk_after].iter().filter_map(|p| figure(p.as_ref()?)).collect();
        (!v.is_empty()).then(|| round1(v.iter().sum::<f64>() / v.len() as f64))
    }

    pub fn record_disk(&mut self, which: &str, probe: io::Result<DiskProbe>) -> Option<DiskProbe> {
        probe.map_err(|e| self.errors.push(format!("disk probe {which}: {e}"))).ok()
    }

    /// Keeps a CPU probe (or its error); `cpu` becomes the fastest so far.
    pub fn record_cpu(&mut self, probe: Result<CpuProbe>) {
        match probe {
            Ok(p) => {
                if self.cpu.as_ref().is_none_or(|best| p.mib_per_s > best.mib_per_s) {
                    self.cpu = Some(p.clone());
                }
                self.cpu_attempts.push(p);
            }
            Err(e) => self.errors.push(format!("{e:#}")),
        }
    }
}

/// What limits the node, and how close it came.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Efficiency {
    /// Achieved ÷ min(the disk's rate for the node's I/O per byte, CPU ceiling).
    pub ratio: f64,
    pub bound: Bound,
    pub bound_mib_per_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    Disk,
    Cpu,
}

/// The disk as measured and what the node did with it per ingested byte.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DiskUse {
    pub write_mib_per_s: Option<f64>,
    pub read_mib_per_s: Option<f64>,
    /// The mix's (write, read) bandwidth.
    pub mixed_mib_per_s: Option<(f64, f64)>,
    pub write_amplification: Option<f64>,
    pub read_amplification: Option<f64>,
}

impl DiskUse {
    /// Ingested MiB/s the disk allows: the measured mix where it stands for the node,
    /// the model otherwise (see the module docs).
    pub fn limit_mib_per_s(&self) -> Option<f64> {
        self.mixed_limit_mib_per_s().or_else(|| self.model_limit_mib_per_s())
    }

    /// `(mixed write + mixed read) ÷ (wa + ra)`: the bytes the mix moved per second,
    /// shared out as the node moves them per ingested byte — if the mix was measured
    /// and the node's reads-to-writes ratio is within [`MIXED_RATIO_TOLERANCE`] of the
    /// mix's. (The mix's readers keep to their share, so its read figure is that share,
    /// not a read bandwidth; summing the bytes does not let the capped term decide.)
    pub fn mixed_limit_mib_per_s(&self) -> Option<f64> {
        let (write, read) = self.mixed_mib_per_s.filter(|(w, r)| *w > 0.0 && *r > 0.0)?;
        let (wa, ra) = positive(self.write_amplification).zip(positive(self.read_amplification))?;
        let off = (ra / wa / MIXED_READ_PER_WRITTEN - 1.0).abs();
        (off <= MIXED_RATIO_TOLERANCE).then(|| (write + read) / (wa + ra))
    }

    /// The model: `1 ÷ (wa ÷ write + ra ÷ read)`; the writes alone where the reads are
    /// unknown.
    pub fn model_limit_mib_per_s(&self) -> Option<f64> {
        let secs_per_mib = positive(self.write_amplification)? / positive(self.write_mib_per_s)?;
        let read = positive(self.read_amplification).zip(positive(self.read_mib_per_s)).map_or(0.0, |(a, r)| a / r);
        Some(1.0 / (secs_per_mib + read))
    }
}

fn positive(v: Option<f64>) -> Option<f64> {
    v.filter(|v| *v > 0.0)
}

/// `achieved ÷ min(disk's limit, cpu)`, over the ceilings that exist.
pub fn efficiency(achieved_mib_per_s: f64, disk: DiskUse, cpu: Option<f64>) -> Option<Efficiency> {
    // Without a disk figure the lower ceiling is unknown: the CPU ceiling alone would
    // call a disk-bound node "CPU-bound" (a probe refused on a nearly full disk).
    disk.write_mib_per_s?;
    let disk_bound = disk.limit_mib_per_s().map(|l| (Bound::Disk, l));
    let cpu_bound = cpu.map(|c| (Bound::Cpu, c));
    let (bound, limit) =
        [disk_bound, cpu_bound].into_iter().flatten().filter(|(_, l)| *l > 0.0).min_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(Efficiency { ratio: round3(achieved_mib_per_s / limit), bound, bound_mib_per_s: round1(limit) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(mib_per_s: f64) -> CpuProbe {
        CpuProbe { blocks: 10, bytes: 10, secs: 1.0, blocks_per_s: 10.0, mib_per_s }
    }

    #[test]
    fn the_cpu_ceiling_is_the_fastest_probe_and_every_probe_is_kept() {
        let mut c = Ceilings::default();
        c.record_cpu(Ok(probe(300.0)));
        c.record_cpu(Err(anyhow::anyhow!("probe node died")));
        c.record_cpu(Ok(probe(410.0)));
        c.record_cpu(Ok(probe(390.0)));
        assert_eq!(c.cpu.as_ref().map(|p| p.mib_per_s), Some(410.0));
        assert_eq!(c.cpu_attempts.iter().map(|p| p.mib_per_s).collect::<Vec<_>>(), [300.0, 410.0, 390.0]);
        assert_eq!(c.errors, ["probe node died"]);
    }

    fn disk(write: f64, wa: f64, read: Option<f64>, ra: Option<f64>) -> DiskUse {
        DiskUse {
            write_mib_per_s: Some(write),
            write_amplification: Some(wa),
            read_mib_per_s: read,
            read_amplification: ra,
            mixed_mib_per_s: None,
        }
    }

    #[test]
    fn the_measured_mix_is_the_limit_where_it_stands_for_the_node() {
        // Alone: writes 500, reads 1,000 → model 1 ÷ (2/500 + 1/1000) = 200. At once
        // they did 280 and 140: the node's 2 and 1 per ingested MiB at 140.
        let measured = DiskUse { mixed_mib_per_s: Some((280.0, 140.0)), ..disk(500.0, 2.0, Some(1000.0), Some(1.0)) };
        assert_eq!(measured.model_limit_mib_per_s(), Some(200.0));
        assert_eq!(measured.mixed_limit_mib_per_s(), Some(140.0));
        let e = efficiency(126.0, measured, Some(400.0)).unwrap();
        assert_eq!((e.bound, e.bound_mib_per_s, e.ratio), (Bound::Disk, 140.0, 0.9));
        // Reads a little above the mix's share: its bytes shared out by the node's,
        // (280 + 140) ÷ (2 + 1.1).
        let more = DiskUse { read_amplification: Some(1.1), ..measured };
        assert_eq!(more.mixed_limit_mib_per_s().map(|l| l.round()), Some(135.0));
        // A node that reads far less than the mix (none, or a quarter): the model.
        for ra in [None, Some(0.5)] {
            let other = DiskUse { read_amplification: ra, ..measured };
            assert_eq!(other.mixed_limit_mib_per_s(), None, "{ra:?}");
            assert_eq!(other.limit_mib_per_s(), other.model_limit_mib_per_s(), "{ra:?}");
        }
        // No mix measured (a failed probe, a run recorded before it): the model.
        assert_eq!(disk(500.0, 2.0, Some(1000.0), Some(1.0)).limit_mib_per_s(), Some(200.0));
    }

    #[test]
    fn efficiency_takes_the_lower_ceiling() {
        // Disk 500 MiB/s with every byte written twice → 250; CPU 400 → disk bounds.
        let e = efficiency(200.0, disk(500.0, 2.0, None, None), Some(400.0)).unwrap();
        assert_eq!((e.bound, e.bound_mib_per_s, e.ratio), (Bound::Disk, 250.0, 0.8));
        let e = efficiency(200.0, disk(2000.0, 2.0, None, None), Some(400.0)).unwrap();
        assert_eq!((e.bound, e.ratio), (Bound::Cpu, 0.5));
        // Unknown write amplification: only the CPU ceiling can be used.
        let unknown = DiskUse { write_amplification: None, ..disk(500.0, 2.0, None, None) };
        assert_eq!(efficiency(200.0, unknown, Some(400.0)).unwrap().bound, Bound::Cpu);
        assert_eq!(efficiency(200.0, DiskUse::default(), None), None);
        // Regression: a disk probe refused on a nearly full filesystem left the CPU
        // ceiling alone, and the run was called CPU-bound.
        assert_eq!(efficiency(200.0, DiskUse::default(), Some(400.0)), None);
    }

    #[test]
    fn reads_and_writes_share_the_disk() {
        // Each ingested MiB: 2 MiB written at 600 MiB/s and 1 MiB read at 300 MiB/s
        // take 1/300 + 1/300 s: 150 MiB/s.
        let e = efficiency(120.0, disk(600.0, 2.0, Some(300.0), Some(1.0)), Some(400.0)).unwrap();
        assert_eq!((e.bound, e.bound_mib_per_s, e.ratio), (Bound::Disk, 150.0, 0.8));
        // Nothing read back (or no read figure): the writes alone.
        assert_eq!(disk(600.0, 2.0, Some(300.0), Some(0.0)).limit_mib_per_s(), Some(300.0));
        assert_eq!(disk(600.0, 2.0, None, Some(1.0)).limit_mib_per_s(), Some(300.0));
    }
}
