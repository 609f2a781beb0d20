//! Hard negatives for Discriminative Finetuning: each NTU class's top-5 confusable labels, as
//! in the authors' `data/ntu60_similar_actions.json` / `ntu120_similar_actions.json`
//! (a JSON object `{"<label>": ["<label>", …], …}`).

use std::collections::BTreeMap;
use std::path::Path;

use super::conversation::read_text;
use super::error::{DataError, Result};
use super::ntu::NtuDataset;

/// Confusable labels per class label, validated against a dataset's class names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardNegatives {
    dataset: NtuDataset,
    map: BTreeMap<String, Vec<String>>,
}

impl HardNegatives {
    /// Reads a hard-negative JSON file for `dataset`.
    pub fn load(path: &Path, dataset: NtuDataset) -> Result<Self> {
        Self::from_json_str(&read_text(path)?, path, dataset)
    }

    /// Parses hard-negative JSON; `path` only names the source in errors. Every key and every
    /// listed label must be a class name of `dataset`; a class may not list itself.
    pub fn from_json_str(text: &str, path: &Path, dataset: NtuDataset) -> Result<Self> {
        let err = |reason: String| DataError::File {
            path: path.to_path_buf(),
            reason,
        };
        let map: BTreeMap<String, Vec<String>> =
            serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        for (label, negs) in &map {
            if dataset.action_id(label).is_none() {
                return Err(err(format!("'{label}' is not a {dataset} class")));
            }
            if let Some(bad) = negs.iter().find(|n| dataset.action_id(n).is_none()) {
                return Err(err(format!(
                    "'{bad}' (a negative of '{label}') is not a {dataset} class"
                )));
            }
            if negs.contains(label) {
                return Err(err(format!("'{label}' lists itself as a negative")));
            }
        }
        Ok(Self { dataset, map })
    }

    /// The dataset the labels belong to.
    pub fn dataset(&self) -> NtuDataset {
        self.dataset
    }

    /// The confusable labels of `label` in file order (empty if the class has no entry).
    pub fn of(&self, label: &str) -> &[String] {
        self.map.get(label).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Number of classes with an entry.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if no class has an entry.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_labels() -> Result<()> {
        let p = Path::new("h.json");
        let h = HardNegatives::from_json_str(
            r#"{"reading": ["writing", "phone call"]}"#,
            p,
            NtuDataset::Ntu60,
        )?;
        assert_eq!(h.of("reading"), ["writing", "phone call"]);
        assert!(h.of("writing").is_empty());
        for bad in [
            r#"{"reading": ["take a photo"]}"#,
            r#"{"read": ["writing"]}"#,
            r#"{"reading": ["reading"]}"#,
            r#"["reading"]"#,
        ] {
            let e = HardNegatives::from_json_str(bad, p, NtuDataset::Ntu60);
            assert!(matches!(e, Err(DataError::File { .. })), "{bad}");
        }
        Ok(())
    }

    #[test]
    #[ignore = "needs ../shared/reference/ntu; run: cargo test -p skeletonllm-train -- --ignored reference_files_load"]
    fn reference_files_load() -> Result<()> {
        for (ds, f) in [
            (NtuDataset::Ntu60, "ntu60_similar_actions.json"),
            (NtuDataset::Ntu120, "ntu120_similar_actions.json"),
        ] {
            let h = HardNegatives::load(&Path::new("/work/shared/reference/ntu").join(f), ds)?;
            assert_eq!(h.len(), usize::from(ds.num_classes()));
            assert!(ds.class_names().iter().all(|l| h.of(l).len() == 5));
        }
        Ok(())
    }
}
