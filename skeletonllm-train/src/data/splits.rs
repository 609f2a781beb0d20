//! Zero-shot split presets (unseen action ids, 1-based) and split names such as `ntu60_48_cs`.
//!
//! Where each list comes from (all checked equal across the sources named):
//! - NTU-60 55/5 and 48/12 (SynSE): DESIGN §7; the authors' `wangzy01/SkeletonLLM`
//!   `skeletonllm/data/ntu_meta.py` (`NTU60_55_CS_UNSEEN`, `NTU60_48_CS_UNSEEN`); the SynSE
//!   README (`skelemoa/synse-zsl`); PURLS `azzh1/PURLS`
//!   `supplements/label_splits/ntu60/ru5.npy`, `ru12.npy` (0-based there).
//! - NTU-60 40/20 and 30/30 (PURLS): the authors' `ntu_meta.py` (`NTU60_40_CS_UNSEEN`,
//!   `NTU60_30_CS_UNSEEN`), equal to PURLS `supplements/label_splits/ntu60/ru20.npy`, `ru30.npy`.
//! - NTU-120 110/10 and 96/24 (SynSE): not in the authors' repository (its `ntu_meta.py` is
//!   NTU-60 only); taken from the SynSE README tables "Unseen Classes (110/10 split)" and
//!   "(96/24 split)", equal to PURLS `supplements/label_splits/ntu120/ru10.npy`, `ru24.npy`.
//! - `all`: no unseen class (the authors' closed-set `ntu60_all_cs` sanity check; the NTU-120
//!   form is our extension).

use std::fmt;

use super::error::{DataError, Result};
use super::ntu::{NtuDataset, NtuSample, Partition, Protocol};

/// A named zero-shot preset: which action ids are unseen (held out of training).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitPreset {
    /// The dataset the ids refer to.
    pub dataset: NtuDataset,
    /// The preset name: `55/5`, `48/12`, `40/20`, `30/30`, `110/10`, `96/24` or `all`.
    pub name: &'static str,
    /// Unseen action ids (1-based, ascending); empty for `all`.
    pub unseen: &'static [u16],
    /// Where the list comes from.
    pub source: &'static str,
}

/// Every preset, NTU-60 first.
pub const SPLIT_PRESETS: &[SplitPreset] = &[
    SplitPreset {
        dataset: NtuDataset::Ntu60,
        name: "55/5",
        unseen: &[11, 12, 20, 27, 57],
        source: "SynSE; SkeletonLLM ntu_meta.py NTU60_55_CS_UNSEEN",
    },
    SplitPreset {
        dataset: NtuDataset::Ntu60,
        name: "48/12",
        unseen: &[4, 6, 10, 13, 16, 41, 43, 48, 52, 57, 59, 60],
        source: "SynSE; SkeletonLLM ntu_meta.py NTU60_48_CS_UNSEEN",
    },
    SplitPreset {
        dataset: NtuDataset::Ntu60,
        name: "40/20",
        unseen: &[
            1, 13, 14, 15, 16, 17, 18, 23, 24, 27, 30, 31, 32, 36, 37, 43, 44, 49, 57, 58,
        ],
        source: "PURLS ntu60/ru20.npy; SkeletonLLM ntu_meta.py NTU60_40_CS_UNSEEN",
    },
    SplitPreset {
        dataset: NtuDataset::Ntu60,
        name: "30/30",
        unseen: &[
            1, 2, 3, 7, 8, 9, 11, 13, 14, 16, 17, 19, 21, 22, 26, 27, 28, 32, 33, 34, 40, 43, 46,
            48, 49, 52, 53, 56, 59, 60,
        ],
        source: "PURLS ntu60/ru30.npy; SkeletonLLM ntu_meta.py NTU60_30_CS_UNSEEN",
    },
    SplitPreset {
        dataset: NtuDataset::Ntu60,
        name: "all",
        unseen: &[],
        source: "SkeletonLLM ntu_meta.py ntu60_all_cs (closed set)",
    },
    SplitPreset {
        dataset: NtuDataset::Ntu120,
        name: "110/10",
        unseen: &[5, 14, 38, 44, 50, 66, 89, 96, 100, 107],
        source: "SynSE README; PURLS ntu120/ru10.npy",
    },
    SplitPreset {
        dataset: NtuDataset::Ntu120,
        name: "96/24",
        unseen: &[
            6, 10, 12, 17, 19, 21, 23, 30, 36, 40, 46, 50, 60, 69, 71, 82, 85, 88, 94, 95, 105,
            114, 115, 120,
        ],
        source: "SynSE README; PURLS ntu120/ru24.npy",
    },
    SplitPreset {
        dataset: NtuDataset::Ntu120,
        name: "all",
        unseen: &[],
        source: "closed set (extension of the authors' ntu60_all_cs)",
    },
];

impl SplitPreset {
    /// Finds a preset by dataset and name (`48/12`, or just the seen count `48`, or `all`).
    pub fn find(dataset: NtuDataset, name: &str) -> Option<&'static SplitPreset> {
        SPLIT_PRESETS.iter().find(|p| {
            p.dataset == dataset && (p.name == name || p.name.split('/').next() == Some(name))
        })
    }

    /// The short token used in split names: the seen count (`48`) or `all`.
    pub fn token(&self) -> &'static str {
        self.name.split('/').next().unwrap_or(self.name)
    }
}

/// A dataset + preset + protocol, e.g. `ntu60_48_cs`: which samples train and which test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZeroShotSplit {
    /// The unseen-class preset (it names the dataset).
    pub preset: &'static SplitPreset,
    /// The train/test protocol over samples.
    pub protocol: Protocol,
}

impl ZeroShotSplit {
    /// A split from its parts; errors if the protocol is not defined for the dataset.
    pub fn new(dataset: NtuDataset, preset: &str, protocol: Protocol) -> Result<Self> {
        protocol.check(dataset)?;
        let preset = SplitPreset::find(dataset, preset).ok_or_else(|| DataError::UnknownSplit {
            name: format!("{dataset} {preset}"),
            choices: Self::choices().join(", "),
        })?;
        Ok(Self { preset, protocol })
    }

    /// Parses a CLI split name `<dataset>_<seen|all>_<protocol>`: `ntu60_55_cs`, `ntu60_48_cv`,
    /// `ntu60_all_cs`, `ntu120_110_cs`, `ntu120_96_cset`, … (case-insensitive).
    pub fn parse(name: &str) -> Result<Self> {
        let unknown = || DataError::UnknownSplit {
            name: name.to_string(),
            choices: Self::choices().join(", "),
        };
        let lower = name.to_ascii_lowercase();
        let mut parts = lower.split('_');
        let (Some(ds), Some(preset), Some(protocol), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(unknown());
        };
        let dataset = NtuDataset::from_name(ds).ok_or_else(unknown)?;
        let protocol = Protocol::from_name(protocol).ok_or_else(unknown)?;
        if protocol.check(dataset).is_err() {
            return Err(unknown());
        }
        let preset = SplitPreset::find(dataset, preset)
            .filter(|p| p.token() == preset)
            .ok_or_else(unknown)?;
        Ok(Self { preset, protocol })
    }

    /// Every accepted split name.
    pub fn choices() -> Vec<String> {
        let mut out = Vec::new();
        for p in SPLIT_PRESETS {
            for protocol in [
                Protocol::CrossSubject,
                Protocol::CrossView,
                Protocol::CrossSetup,
            ] {
                if protocol.check(p.dataset).is_ok() {
                    out.push(format!("{}_{}_{}", p.dataset, p.token(), protocol));
                }
            }
        }
        out
    }

    /// The dataset.
    pub fn dataset(&self) -> NtuDataset {
        self.preset.dataset
    }

    /// Canonical name, e.g. `ntu60_48_cs`.
    pub fn name(&self) -> String {
        self.to_string()
    }

    /// Unseen (held-out) action ids, ascending; empty for `all`.
    pub fn unseen_ids(&self) -> &'static [u16] {
        self.preset.unseen
    }

    /// Seen (training) action ids, ascending: all classes minus the unseen ones.
    pub fn seen_ids(&self) -> Vec<u16> {
        (1..=self.dataset().num_classes())
            .filter(|id| !self.preset.unseen.contains(id))
            .collect()
    }

    /// Candidate ids at evaluation: the unseen ones, or every class for `all`
    /// (the authors' `test_action_ids`).
    pub fn test_ids(&self) -> Vec<u16> {
        if self.preset.unseen.is_empty() {
            (1..=self.dataset().num_classes()).collect()
        } else {
            self.preset.unseen.to_vec()
        }
    }

    /// Labels of [`Self::seen_ids`], in id order (the training MQA candidate list).
    pub fn seen_labels(&self) -> Vec<&'static str> {
        self.labels_of(&self.seen_ids())
    }

    /// Labels of [`Self::test_ids`], in id order (the evaluation MQA candidate list).
    pub fn test_labels(&self) -> Vec<&'static str> {
        self.labels_of(&self.test_ids())
    }

    fn labels_of(&self, ids: &[u16]) -> Vec<&'static str> {
        let names = self.dataset().class_names();
        ids.iter()
            .filter_map(|&id| names.get(usize::from(id).wrapping_sub(1)).copied())
            .collect()
    }

    /// True if the sample is a training sample: in the dataset, on the protocol's training side,
    /// and of a seen class.
    pub fn is_train(&self, sample: &NtuSample) -> bool {
        matches!(
            self.protocol.partition(self.dataset(), sample),
            Ok(Some(Partition::Train))
        ) && !self.preset.unseen.contains(&sample.action)
    }

    /// True if the sample is an evaluation sample: in the dataset, on the protocol's test side,
    /// and of a test class (the authors' `is_ntu60_cs_test_file`).
    pub fn is_test(&self, sample: &NtuSample) -> bool {
        matches!(
            self.protocol.partition(self.dataset(), sample),
            Ok(Some(Partition::Test))
        ) && (self.preset.unseen.is_empty() || self.preset.unseen.contains(&sample.action))
    }
}

impl fmt::Display for ZeroShotSplit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{}_{}",
            self.dataset(),
            self.preset.token(),
            self.protocol
        )
    }
}

impl std::str::FromStr for ZeroShotSplit {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_consistent() {
        for p in SPLIT_PRESETS {
            let n = p.dataset.num_classes();
            assert!(p.unseen.windows(2).all(|w| w[0] < w[1]), "{}", p.name);
            assert!(p.unseen.iter().all(|&id| (1..=n).contains(&id)));
            if p.name != "all" {
                let (seen, unseen) = p.name.split_once('/').unwrap_or_default();
                assert_eq!(
                    unseen.parse::<usize>().ok(),
                    Some(p.unseen.len()),
                    "{}",
                    p.name
                );
                assert_eq!(
                    seen.parse::<usize>().ok(),
                    Some(usize::from(n) - p.unseen.len())
                );
            }
        }
    }

    #[test]
    fn names_round_trip() -> Result<()> {
        let names = ZeroShotSplit::choices();
        assert_eq!(names.len(), 5 * 2 + 3 * 2);
        for name in &names {
            assert_eq!(&ZeroShotSplit::parse(name)?.name(), name);
        }
        let s: ZeroShotSplit = "NTU60_48_CS".parse()?;
        assert_eq!(
            s.unseen_ids(),
            &[4, 6, 10, 13, 16, 41, 43, 48, 52, 57, 59, 60]
        );
        assert_eq!(s.seen_ids().len(), 48);
        assert_eq!(s.test_labels()[0], "brush hair");
        for bad in [
            "ntu60_48",
            "ntu60_47_cs",
            "ntu60_48/12_cs",
            "ntu60_48_cset",
            "ntu120_110_cv",
            "ntu120_55_cs",
            "ntu60_48_cs_x",
            "",
        ] {
            assert!(
                matches!(
                    ZeroShotSplit::parse(bad),
                    Err(DataError::UnknownSplit { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            ZeroShotSplit::new(NtuDataset::Ntu120, "96/24", Protocol::CrossSetup)?.name(),
            "ntu120_96_cset"
        );
        Ok(())
    }

    #[test]
    fn train_and_test_membership() -> Result<()> {
        let s = ZeroShotSplit::parse("ntu60_55_cs")?;
        let p = |n: &str| NtuSample::parse(n);
        assert!(s.is_train(&p("S001C001P001R001A001")?));
        assert!(!s.is_train(&p("S001C001P001R001A011")?)); // unseen class
        assert!(!s.is_train(&p("S001C001P003R001A001")?)); // test subject
        assert!(!s.is_train(&p("S018C001P001R001A001")?)); // NTU-120 setup
        assert!(s.is_test(&p("S001C001P003R001A011")?));
        assert!(!s.is_test(&p("S001C001P003R001A001")?)); // seen class
        let all = ZeroShotSplit::parse("ntu60_all_cs")?;
        assert_eq!(all.test_ids().len(), 60);
        assert!(all.is_test(&p("S001C001P003R001A001")?));
        Ok(())
    }
}
