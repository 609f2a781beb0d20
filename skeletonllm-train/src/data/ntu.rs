//! NTU RGB+D 60 / 120: class names, sample names `SsssCcccPpppRrrrAaaa`, and the standard
//! evaluation protocols (cross-subject, cross-view, cross-setup).

use std::fmt;
use std::path::Path;

use super::error::{DataError, Result};

/// The 120 NTU RGB+D 120 class names, index = action id − 1; the first 60 are NTU-60.
///
/// Exactly the strings the SkeletonLLM authors use (`wangzy01/SkeletonLLM`
/// `skeletonllm/data/ntu_meta.py` and the keys of `data/ntu{60,120}_similar_actions.json`,
/// in file order), so prompts, answers and hard-negative lookups agree with their data.
pub const NTU120_CLASSES: [&str; 120] = [
    "drink water",                        // A001
    "eat food",                           // A002
    "brush teeth",                        // A003
    "brush hair",                         // A004
    "drop something",                     // A005
    "pick up",                            // A006
    "throw",                              // A007
    "sit down",                           // A008
    "stand up",                           // A009
    "clapping",                           // A010
    "reading",                            // A011
    "writing",                            // A012
    "tear up paper",                      // A013
    "put on jacket",                      // A014
    "take off jacket",                    // A015
    "put on shoe",                        // A016
    "take off shoe",                      // A017
    "put on glasses",                     // A018
    "take off glasses",                   // A019
    "put on hat/cap",                     // A020
    "take off hat/cap",                   // A021
    "cheer (raise arms)",                 // A022
    "hand waving",                        // A023
    "kicking the air/something",          // A024
    "reach into pocket",                  // A025
    "hopping",                            // A026
    "jump up",                            // A027
    "phone call",                         // A028
    "play with phone/tablet",             // A029
    "type on keyboard",                   // A030
    "point at something/directions",      // A031
    "take a selfie",                      // A032
    "check time (from watch)",            // A033
    "rub two hands",                      // A034
    "bow (bend forward)",                 // A035
    "shake head",                         // A036
    "wipe face",                          // A037
    "salute",                             // A038
    "pray with hands together",           // A039
    "cross hands in front",               // A040
    "sneezing/cough",                     // A041
    "staggering",                         // A042
    "falling down",                       // A043
    "headache",                           // A044
    "chest pain",                         // A045
    "back pain",                          // A046
    "neck pain",                          // A047
    "nausea/vomiting",                    // A048
    "fan self",                           // A049
    "punch/slap someone",                 // A050
    "kicking someone",                    // A051
    "pushing someone",                    // A052
    "pat someone on the back",            // A053
    "point at someone",                   // A054
    "hug each other",                     // A055
    "giving object",                      // A056
    "touch someone's pocket",             // A057
    "shaking hands",                      // A058
    "walking towards each other",         // A059
    "walking apart from each other",      // A060
    "put on headphones",                  // A061
    "take off headphone",                 // A062
    "throw ball (shoot a basket)",        // A063
    "bounce ball",                        // A064
    "swing paddle",                       // A065
    "juggle table tennis ball",           // A066
    "hush",                               // A067
    "touch hair",                         // A068
    "give thumbs up",                     // A069
    "give thumbs down",                   // A070
    "make ok sign",                       // A071
    "make victory sign",                  // A072
    "staple papers with a small stapler", // A073
    "counting money",                     // A074
    "cutting nails",                      // A075
    "cutting paper",                      // A076
    "snap fingers",                       // A077
    "open a bottle",                      // A078
    "sniff/smell",                        // A079
    "squat down",                         // A080
    "toss a coin",                        // A081
    "fold paper",                         // A082
    "ball up paper",                      // A083
    "play with a rubik's cube",           // A084
    "apply cream on face",                // A085
    "apply cream on hand",                // A086
    "put on bag",                         // A087
    "take off bag",                       // A088
    "put object into bag",                // A089
    "take object out of bag",             // A090
    "open a box",                         // A091
    "move heavy objects",                 // A092
    "shake fist",                         // A093
    "throw up hat/cap",                   // A094
    "capitulate",                         // A095
    "cross arms",                         // A096
    "spin arms in circles",               // A097
    "arm swings",                         // A098
    "run on the spot",                    // A099
    "butt kicks",                         // A100
    "touch toes repeatedly",              // A101
    "side kick",                          // A102
    "yawn",                               // A103
    "stretch oneself",                    // A104
    "blow nose",                          // A105
    "hit someone with an object",         // A106
    "swing a knife at someone",           // A107
    "knock into someone",                 // A108
    "grab something from someone",        // A109
    "point a gun at someone",             // A110
    "step on someone's foot",             // A111
    "high-five",                          // A112
    "cheers and drink",                   // A113
    "carry objects together",             // A114
    "take a photo",                       // A115
    "follow someone",                     // A116
    "whisper to someone",                 // A117
    "exchange objects",                   // A118
    "support someone",                    // A119
    "rock-paper-scissors",                // A120
];

/// The 60 NTU RGB+D 60 class names, index = action id − 1.
pub const NTU60_CLASSES: &[&str] = NTU120_CLASSES.split_at(60).0;

/// NTU-60 cross-subject training performers (the others are test performers).
pub const NTU60_CS_TRAIN_SUBJECTS: [u16; 20] = [
    1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38,
];

/// NTU-120 cross-subject training performers: the standard 53 of the NTU RGB+D 120 paper.
pub const NTU120_CS_TRAIN_SUBJECTS: [u16; 53] = [
    1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38, 45, 46, 47, 49, 50,
    52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93, 94, 95,
    97, 98, 100, 103,
];

/// NTU-60 cross-view training cameras (camera 1 is the test view).
pub const NTU60_CV_TRAIN_CAMERAS: [u16; 2] = [2, 3];

/// Which NTU RGB+D dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NtuDataset {
    /// NTU RGB+D 60: setups 1–17, actions 1–60.
    Ntu60,
    /// NTU RGB+D 120: setups 1–32, actions 1–120.
    Ntu120,
}

impl NtuDataset {
    /// Short name as used in split names: `ntu60` / `ntu120`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ntu60 => "ntu60",
            Self::Ntu120 => "ntu120",
        }
    }

    /// Parses `ntu60` / `ntu120` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "ntu60" => Some(Self::Ntu60),
            "ntu120" => Some(Self::Ntu120),
            _ => None,
        }
    }

    /// Number of action classes (60 or 120).
    pub fn num_classes(self) -> u16 {
        match self {
            Self::Ntu60 => 60,
            Self::Ntu120 => 120,
        }
    }

    /// Largest setup id recorded for this dataset (17 or 32).
    pub fn max_setup(self) -> u16 {
        match self {
            Self::Ntu60 => 17,
            Self::Ntu120 => 32,
        }
    }

    /// The class names, index = action id − 1.
    pub fn class_names(self) -> &'static [&'static str] {
        match self {
            Self::Ntu60 => NTU60_CLASSES,
            Self::Ntu120 => &NTU120_CLASSES,
        }
    }

    /// The label of a 1-based action id.
    pub fn label(self, action: u16) -> Result<&'static str> {
        action
            .checked_sub(1)
            .and_then(|i| self.class_names().get(usize::from(i)).copied())
            .ok_or(DataError::ActionId {
                dataset: self.name(),
                id: action,
                max: self.num_classes(),
            })
    }

    /// The 1-based action id of an exact label, if it is a class of this dataset.
    pub fn action_id(self, label: &str) -> Option<u16> {
        self.class_names()
            .iter()
            .position(|&n| n == label)
            .and_then(|i| u16::try_from(i + 1).ok())
    }

    /// True if the sample belongs to this dataset (NTU-60 drops setups ≥ 18, as the authors do).
    pub fn contains(self, sample: &NtuSample) -> bool {
        (1..=self.max_setup()).contains(&sample.setup)
            && (1..=self.num_classes()).contains(&sample.action)
    }
}

impl fmt::Display for NtuDataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fields of an NTU sample name `SsssCcccPpppRrrrAaaa` (all 1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NtuSample {
    /// Setup id (`S`).
    pub setup: u16,
    /// Camera id (`C`), 1–3.
    pub camera: u16,
    /// Performer / subject id (`P`).
    pub performer: u16,
    /// Replication id (`R`), 1–2.
    pub replication: u16,
    /// Action id (`A`).
    pub action: u16,
}

impl NtuSample {
    /// Parses a sample name, file name or path (`S001C002P003R002A013`,
    /// `…/S001C002P003R002A013.skeleton`); only the first 20 characters of the stem are read,
    /// as in the authors' `parse_sample_id` (a prefix regex match).
    pub fn parse(name: &str) -> Result<Self> {
        let meta = draction::io::ntu::name_meta(Path::new(name));
        let get = |k: &str| meta.get(k).and_then(|v| v.parse::<u16>().ok());
        match (
            get("setup"),
            get("camera"),
            get("performer"),
            get("replication"),
            get("action"),
        ) {
            (Some(setup), Some(camera), Some(performer), Some(replication), Some(action)) => {
                Ok(Self {
                    setup,
                    camera,
                    performer,
                    replication,
                    action,
                })
            }
            _ => Err(DataError::SampleName(name.to_string())),
        }
    }

    /// The canonical sample id `SsssCcccPpppRrrrAaaa`.
    pub fn id(&self) -> String {
        self.to_string()
    }

    /// The skeleton file name `<id>.skeleton` (the `image` field of the authors' records).
    pub fn file_name(&self) -> String {
        format!("{self}.skeleton")
    }
}

impl fmt::Display for NtuSample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "S{:03}C{:03}P{:03}R{:03}A{:03}",
            self.setup, self.camera, self.performer, self.replication, self.action
        )
    }
}

impl std::str::FromStr for NtuSample {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// An NTU evaluation protocol: how samples are divided into train and test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Cross-subject: training performers listed per dataset, the rest test.
    CrossSubject,
    /// Cross-view (NTU-60 only): cameras 2 and 3 train, camera 1 test.
    CrossView,
    /// Cross-setup (NTU-120 only): even setup ids train, odd test.
    CrossSetup,
}

/// Which side of a protocol a sample falls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Partition {
    /// Training sample.
    Train,
    /// Test sample.
    Test,
}

impl Protocol {
    /// Short name as used in split names: `cs`, `cv`, `cset`.
    pub fn name(self) -> &'static str {
        match self {
            Self::CrossSubject => "cs",
            Self::CrossView => "cv",
            Self::CrossSetup => "cset",
        }
    }

    /// Parses `cs` / `cv` / `cset` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "cs" => Some(Self::CrossSubject),
            "cv" => Some(Self::CrossView),
            "cset" => Some(Self::CrossSetup),
            _ => None,
        }
    }

    /// Errors if the dataset does not define this protocol (CV is NTU-60, CSet NTU-120 only).
    pub fn check(self, dataset: NtuDataset) -> Result<()> {
        match (self, dataset) {
            (Self::CrossView, NtuDataset::Ntu120) | (Self::CrossSetup, NtuDataset::Ntu60) => {
                Err(DataError::Protocol {
                    dataset: dataset.name(),
                    protocol: self.name(),
                })
            }
            _ => Ok(()),
        }
    }

    /// The partition of `sample` under this protocol on `dataset`; `None` if the sample is not
    /// part of the dataset (e.g. an NTU-120-only setup under NTU-60).
    pub fn partition(self, dataset: NtuDataset, sample: &NtuSample) -> Result<Option<Partition>> {
        self.check(dataset)?;
        if !dataset.contains(sample) {
            return Ok(None);
        }
        let train = match self {
            Self::CrossSubject => match dataset {
                NtuDataset::Ntu60 => NTU60_CS_TRAIN_SUBJECTS.contains(&sample.performer),
                NtuDataset::Ntu120 => NTU120_CS_TRAIN_SUBJECTS.contains(&sample.performer),
            },
            Self::CrossView => NTU60_CV_TRAIN_CAMERAS.contains(&sample.camera),
            Self::CrossSetup => sample.setup.is_multiple_of(2),
        };
        Ok(Some(if train {
            Partition::Train
        } else {
            Partition::Test
        }))
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Lists the NTU samples of a directory of `*.skeleton` files, sorted by id (as the authors'
/// `sorted(root.glob("*.skeleton"))`); files whose names are not NTU names are skipped.
pub fn scan_skeleton_dir(dir: &Path) -> Result<Vec<NtuSample>> {
    let io = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("skeleton") {
            continue;
        }
        if let Some(name) = path.file_name().and_then(|n| n.to_str())
            && let Ok(sample) = NtuSample::parse(name)
        {
            out.push(sample);
        }
    }
    out.sort_unstable_by_key(|s| s.id());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids_round_trip() {
        assert_eq!(NTU60_CLASSES.len(), 60);
        assert_eq!(NtuDataset::Ntu60.label(1).ok(), Some("drink water"));
        assert_eq!(
            NtuDataset::Ntu60.label(60).ok(),
            Some("walking apart from each other")
        );
        assert_eq!(
            NtuDataset::Ntu120.label(120).ok(),
            Some("rock-paper-scissors")
        );
        assert!(NtuDataset::Ntu60.label(61).is_err());
        assert!(NtuDataset::Ntu60.label(0).is_err());
        for ds in [NtuDataset::Ntu60, NtuDataset::Ntu120] {
            for id in 1..=ds.num_classes() {
                let label = ds.label(id).unwrap_or_default();
                assert_eq!(ds.action_id(label), Some(id), "{label}");
            }
        }
        assert_eq!(NtuDataset::Ntu60.action_id("take a photo"), None);
        assert_eq!(NTU120_CS_TRAIN_SUBJECTS.len(), 53);
    }

    #[test]
    fn sample_names() -> Result<()> {
        let s = NtuSample::parse("data/S017C003P020R002A060.skeleton")?;
        assert_eq!(
            (s.setup, s.camera, s.performer, s.replication, s.action),
            (17, 3, 20, 2, 60)
        );
        assert_eq!(s.id(), "S017C003P020R002A060");
        assert_eq!(s.file_name(), "S017C003P020R002A060.skeleton");
        assert_eq!("S001C001P001R001A001_pos".parse::<NtuSample>()?.action, 1);
        for bad in [
            "",
            "S001C001P001R001",
            "X001C001P001R001A001",
            "S001C001P0a1R001A001",
        ] {
            assert!(matches!(
                NtuSample::parse(bad),
                Err(DataError::SampleName(_))
            ));
        }
        Ok(())
    }

    #[test]
    fn protocols() -> Result<()> {
        let p = |n: &str| NtuSample::parse(n);
        let cs = Protocol::CrossSubject;
        assert_eq!(
            cs.partition(NtuDataset::Ntu60, &p("S001C001P001R001A001")?)?,
            Some(Partition::Train)
        );
        assert_eq!(
            cs.partition(NtuDataset::Ntu60, &p("S001C001P003R001A001")?)?,
            Some(Partition::Test)
        );
        // NTU-120-only setups and actions are not NTU-60 samples.
        assert_eq!(
            cs.partition(NtuDataset::Ntu60, &p("S018C001P001R001A001")?)?,
            None
        );
        assert_eq!(
            cs.partition(NtuDataset::Ntu60, &p("S001C001P001R001A061")?)?,
            None
        );
        assert_eq!(
            cs.partition(NtuDataset::Ntu120, &p("S018C001P045R001A061")?)?,
            Some(Partition::Train)
        );
        assert_eq!(
            cs.partition(NtuDataset::Ntu120, &p("S018C001P044R001A061")?)?,
            Some(Partition::Test)
        );
        let cv = Protocol::CrossView;
        assert_eq!(
            cv.partition(NtuDataset::Ntu60, &p("S001C002P003R001A001")?)?,
            Some(Partition::Train)
        );
        assert_eq!(
            cv.partition(NtuDataset::Ntu60, &p("S001C001P001R001A001")?)?,
            Some(Partition::Test)
        );
        let cset = Protocol::CrossSetup;
        assert_eq!(
            cset.partition(NtuDataset::Ntu120, &p("S032C001P001R001A001")?)?,
            Some(Partition::Train)
        );
        assert_eq!(
            cset.partition(NtuDataset::Ntu120, &p("S031C001P001R001A001")?)?,
            Some(Partition::Test)
        );
        assert!(cv.check(NtuDataset::Ntu120).is_err());
        assert!(cset.check(NtuDataset::Ntu60).is_err());
        Ok(())
    }

    /// The keys of a JSON object in file order.
    struct OrderedKeys(Vec<String>);

    impl<'de> serde::Deserialize<'de> for OrderedKeys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = OrderedKeys;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> std::result::Result<OrderedKeys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(OrderedKeys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }

    /// Checks the embedded names against the authors' hard-negative files (keys, in order).
    #[test]
    #[ignore = "needs ../shared/reference/ntu; run: cargo test -p skeletonllm-train -- --ignored class_names_match_reference_json"]
    fn class_names_match_reference_json() {
        for (ds, file) in [
            (NtuDataset::Ntu60, "ntu60_similar_actions.json"),
            (NtuDataset::Ntu120, "ntu120_similar_actions.json"),
        ] {
            let path = Path::new("/work/shared/reference/ntu").join(file);
            let text = std::fs::read_to_string(&path).expect("reference file");
            let keys: OrderedKeys = serde_json::from_str(&text).expect("reference json");
            assert_eq!(keys.0, ds.class_names(), "{}", path.display());
        }
    }
}
