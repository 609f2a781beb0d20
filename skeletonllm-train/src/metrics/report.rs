//! A serialisable recognition report (overall, per-class and seen/unseen accuracy) with a
//! Markdown renderer.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{Display, Write as _};
use std::path::Path;

use serde::Serialize;

use super::MetricsError;
use super::classify::{Accuracy, GzslSplit, check_inputs, gzsl_split, hit, top_k};
use super::io::write_atomic;

/// Accuracy of one ground-truth class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassAccuracy {
    /// The class label (its `Display` form).
    pub label: String,
    /// Whether the class is in the unseen set (false when no split was given).
    pub unseen: bool,
    /// Top-1 hits among this class's samples.
    pub top1: Accuracy,
    /// Top-5 hits among this class's samples.
    pub top5: Accuracy,
}

/// Recognition results of one evaluation run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecognitionReport {
    /// Number of evaluated samples.
    pub num_samples: usize,
    /// Number of distinct ground-truth classes.
    pub num_classes: usize,
    /// Overall top-1 accuracy.
    pub top1: Accuracy,
    /// Overall top-5 accuracy.
    pub top5: Accuracy,
    /// Mean over ground-truth classes of the per-class top-1 accuracy.
    pub mean_class_top1: f64,
    /// Seen / unseen top-1 split (when unseen labels were given).
    pub gzsl_top1: Option<GzslSplit>,
    /// Seen / unseen top-5 split (when unseen labels were given).
    pub gzsl_top5: Option<GzslSplit>,
    /// Per-class accuracy, sorted by label (`Ord` of the label type).
    pub per_class: Vec<ClassAccuracy>,
}

fn pct(a: f64) -> String {
    format!("{:.2}%", 100.0 * a)
}

fn pct_count(a: &Accuracy) -> String {
    format!("{} ({}/{})", pct(a.accuracy), a.correct, a.total)
}

/// Escapes a label for a Markdown table cell.
fn md_cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

impl RecognitionReport {
    /// Builds a report from ranked predictions (best first) and ground truth; `unseen`
    /// (the unseen label set, if any) adds the generalised zero-shot split.
    pub fn new<L, R>(ranked: &[R], truth: &[L], unseen: Option<&[L]>) -> Result<Self, MetricsError>
    where
        L: Ord + Display,
        R: AsRef<[L]>,
    {
        check_inputs(ranked.len(), truth.len(), 1)?;
        let unseen_set: BTreeSet<&L> = unseen.unwrap_or(&[]).iter().collect();
        let mut classes: BTreeMap<&L, [usize; 3]> = BTreeMap::new();
        for (r, t) in ranked.iter().zip(truth) {
            let e = classes.entry(t).or_insert([0; 3]);
            e[0] += 1;
            e[1] += usize::from(hit(r.as_ref(), t, 1));
            e[2] += usize::from(hit(r.as_ref(), t, 5));
        }
        let per_class: Vec<ClassAccuracy> = classes
            .iter()
            .map(|(label, [n, c1, c5])| ClassAccuracy {
                label: label.to_string(),
                unseen: unseen_set.contains(label),
                top1: Accuracy::new(*c1, *n),
                top5: Accuracy::new(*c5, *n),
            })
            .collect();
        let mean_class_top1 = if per_class.is_empty() {
            0.0
        } else {
            per_class.iter().map(|c| c.top1.accuracy).sum::<f64>() / per_class.len() as f64
        };
        let (gzsl_top1, gzsl_top5) = match unseen {
            Some(u) => (
                Some(gzsl_split(ranked, truth, u, 1)?),
                Some(gzsl_split(ranked, truth, u, 5)?),
            ),
            None => (None, None),
        };
        Ok(Self {
            num_samples: truth.len(),
            num_classes: per_class.len(),
            top1: top_k(ranked, truth, 1)?,
            top5: top_k(ranked, truth, 5)?,
            mean_class_top1,
            gzsl_top1,
            gzsl_top5,
            per_class,
        })
    }

    /// Renders the report as Markdown: a summary table, then a per-class table.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_markdown(&mut s);
        s
    }

    fn write_markdown(&self, s: &mut String) -> std::fmt::Result {
        writeln!(s, "| Metric | Value |")?;
        writeln!(s, "| --- | ---: |")?;
        writeln!(s, "| Samples | {} |", self.num_samples)?;
        writeln!(s, "| Classes | {} |", self.num_classes)?;
        writeln!(s, "| Top-1 | {} |", pct_count(&self.top1))?;
        writeln!(s, "| Top-5 | {} |", pct_count(&self.top5))?;
        writeln!(s, "| Mean class top-1 | {} |", pct(self.mean_class_top1))?;
        for (k, split) in [(1, &self.gzsl_top1), (5, &self.gzsl_top5)] {
            if let Some(g) = split {
                writeln!(s, "| Seen top-{k} | {} |", pct_count(&g.seen))?;
                writeln!(s, "| Unseen top-{k} | {} |", pct_count(&g.unseen))?;
                writeln!(s, "| Harmonic mean top-{k} | {} |", pct(g.harmonic_mean))?;
            }
        }
        if self.per_class.is_empty() {
            return Ok(());
        }
        let gzsl = self.gzsl_top1.is_some();
        writeln!(s)?;
        if gzsl {
            writeln!(s, "| Class | Split | Samples | Top-1 | Top-5 |")?;
            writeln!(s, "| --- | --- | ---: | ---: | ---: |")?;
        } else {
            writeln!(s, "| Class | Samples | Top-1 | Top-5 |")?;
            writeln!(s, "| --- | ---: | ---: | ---: |")?;
        }
        for c in &self.per_class {
            write!(s, "| {} |", md_cell(&c.label))?;
            if gzsl {
                write!(s, " {} |", if c.unseen { "unseen" } else { "seen" })?;
            }
            writeln!(
                s,
                " {} | {} | {} |",
                c.top1.total,
                pct(c.top1.accuracy),
                pct(c.top5.accuracy)
            )?;
        }
        Ok(())
    }

    /// Serialises the report as pretty JSON.
    pub fn to_json(&self) -> Result<String, MetricsError> {
        serde_json::to_string_pretty(self).map_err(|source| MetricsError::Json {
            path: Default::default(),
            source,
        })
    }

    /// Writes the report as pretty JSON to `path` atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), MetricsError> {
        let json = serde_json::to_vec_pretty(self).map_err(|source| MetricsError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        write_atomic(path, &json)
    }
}
