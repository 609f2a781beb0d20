//! The authors' InternVL conversation JSONL: one record per line,
//! `{"id", "image": "<sample>.skeleton", "conversations": [{"from", "value"}, …]}`.
//!
//! Matches what `wangzy01/SkeletonLLM` writes (`tools/build_*_annotation.py`) and reads
//! (`skeletonllm/train/skeletonllm_chat_finetune.py`): `image` may also be a list (its first
//! element is the skeleton), an optional first `system` turn overrides the template's system
//! message, and other keys (e.g. InternVL's precomputed `length`) are kept in
//! [`ConversationRecord::extra`] and written back. The writer formats like Python's
//! `json.dumps(item, ensure_ascii=False)` (`", "` and `": "` separators), so files are
//! byte-compatible with theirs.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{DataError, Result};

/// Who speaks a turn (`"from"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// System message (optional, first turn only).
    System,
    /// The user / question turn.
    Human,
    /// The assistant / answer turn (the training target).
    Gpt,
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// Speaker.
    pub from: Role,
    /// Text; the first human turn carries the `<image>` placeholders.
    pub value: String,
}

impl Turn {
    /// A human turn.
    pub fn human(value: impl Into<String>) -> Self {
        Self {
            from: Role::Human,
            value: value.into(),
        }
    }

    /// A gpt (answer) turn.
    pub fn gpt(value: impl Into<String>) -> Self {
        Self {
            from: Role::Gpt,
            value: value.into(),
        }
    }

    /// A system turn.
    pub fn system(value: impl Into<String>) -> Self {
        Self {
            from: Role::System,
            value: value.into(),
        }
    }
}

/// The `image` field: one path (what the authors write) or a list (whose first entry is used).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ImageField {
    /// A single path, e.g. `S001C001P001R001A001.skeleton`.
    One(String),
    /// A list of paths.
    Many(Vec<String>),
}

impl ImageField {
    /// The skeleton path: the string, or the list's first entry.
    pub fn first(&self) -> Option<&str> {
        match self {
            Self::One(s) => Some(s),
            Self::Many(v) => v.first().map(String::as_str),
        }
    }
}

/// One line of a conversation JSONL file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRecord {
    /// Sample id (the skeleton stem, possibly with a suffix such as `_pos`); numeric ids in
    /// foreign files are read as their decimal text.
    #[serde(deserialize_with = "id_from_string_or_number")]
    pub id: String,
    /// The skeleton file, relative to the data root.
    pub image: ImageField,
    /// The turns: optional `system`, then alternating `human` / `gpt`.
    pub conversations: Vec<Turn>,
    /// Any other keys, kept and written back after the known ones.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn id_from_string_or_number<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        N(serde_json::Number),
    }
    Ok(match Id::deserialize(d)? {
        Id::S(s) => s,
        Id::N(n) => n.to_string(),
    })
}

impl ConversationRecord {
    /// A single-exchange record: `image`, one human question and one gpt answer.
    pub fn qa(
        id: impl Into<String>,
        image: impl Into<String>,
        question: impl Into<String>,
        answer: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            image: ImageField::One(image.into()),
            conversations: vec![Turn::human(question), Turn::gpt(answer)],
            extra: serde_json::Map::new(),
        }
    }

    /// The system turn's text, if the record has one.
    pub fn system(&self) -> Option<&str> {
        self.conversations
            .first()
            .filter(|t| t.from == Role::System)
            .map(|t| t.value.as_str())
    }

    /// The first human turn's text.
    pub fn question(&self) -> Option<&str> {
        self.conversations
            .iter()
            .find(|t| t.from == Role::Human)
            .map(|t| t.value.as_str())
    }

    /// The last gpt turn's text (the final answer).
    pub fn answer(&self) -> Option<&str> {
        self.conversations
            .iter()
            .rev()
            .find(|t| t.from == Role::Gpt)
            .map(|t| t.value.as_str())
    }

    /// Checks the turn structure: an optional leading `system` turn, then at least one
    /// `human`/`gpt` pair, alternating and starting with `human`; a non-empty image path.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.image.first().is_none_or(str::is_empty) {
            return Err("empty \"image\"".into());
        }
        let turns = match self.conversations.first() {
            Some(t) if t.from == Role::System => &self.conversations[1..],
            _ => &self.conversations[..],
        };
        if turns.is_empty() {
            return Err("\"conversations\" has no human/gpt turns".into());
        }
        for (i, t) in turns.iter().enumerate() {
            let want = if i % 2 == 0 { Role::Human } else { Role::Gpt };
            if t.from != want {
                return Err(format!(
                    "turn {} is \"{}\", expected \"{}\"",
                    i + self.conversations.len() - turns.len(),
                    role_name(t.from),
                    role_name(want)
                ));
            }
        }
        if turns.len() % 2 != 0 {
            return Err("last turn is not \"gpt\"".into());
        }
        Ok(())
    }

    /// This record as one JSON line (no newline), formatted like Python's `json.dumps`.
    pub fn to_json_line(&self) -> String {
        let mut buf = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, PyFormatter);
        // Serialising plain strings, vectors and JSON values into memory cannot fail.
        if self.serialize(&mut ser).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::Human => "human",
        Role::Gpt => "gpt",
    }
}

/// serde_json formatter with Python `json.dumps` default separators (`", "`, `": "`).
struct PyFormatter;

impl serde_json::ser::Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// Parses conversation JSONL text; `path` only names the source in errors. Blank lines are
/// skipped; every other line must be a valid record (see [`ConversationRecord::validate`]).
pub fn parse_conversations(text: &str, path: &Path) -> Result<Vec<ConversationRecord>> {
    parse_jsonl(text, path, |rec: &ConversationRecord| rec.validate())
}

/// Reads a conversation JSONL file.
pub fn read_conversations(path: &Path) -> Result<Vec<ConversationRecord>> {
    parse_conversations(&read_text(path)?, path)
}

/// Writes records as JSONL (one per line, `\n`-terminated) atomically: to a temporary file in
/// the same directory, flushed and synced, then renamed over `path`.
pub fn write_conversations(path: &Path, records: &[ConversationRecord]) -> Result<()> {
    let mut text = String::new();
    for r in records {
        text.push_str(&r.to_json_line());
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

/// Reads a whole UTF-8 file, naming it in the error.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses JSONL into `T`, checking each record with `check`; errors carry file and line.
pub(crate) fn parse_jsonl<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
    check: impl Fn(&T) -> std::result::Result<(), String>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_err = |reason: String| DataError::Line {
            path: path.to_path_buf(),
            line: i + 1,
            reason,
        };
        if line.trim().is_empty() {
            continue;
        }
        let rec: T = serde_json::from_str(line).map_err(|e| line_err(e.to_string()))?;
        check(&rec).map_err(line_err)?;
        out.push(rec);
    }
    Ok(out)
}

/// Writes `bytes` to `path` via a synced temporary sibling and a rename
/// ([`draction::io::write_file_atomic`]), creating the folder first.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |p: &Path| {
        let p: PathBuf = p.to_path_buf();
        move |source| DataError::Io { path: p, source }
    };
    if path.file_name().and_then(|n| n.to_str()).is_none() {
        return Err(DataError::Config(format!(
            "{}: not a file path",
            path.display()
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    draction::io::write_file_atomic(path, bytes).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_compatible_line() {
        let r =
            ConversationRecord::qa("S1", "S1.skeleton", "Frame1: <image>\nq", "touch someone's");
        assert_eq!(
            r.to_json_line(),
            r#"{"id": "S1", "image": "S1.skeleton", "conversations": [{"from": "human", "value": "Frame1: <image>\nq"}, {"from": "gpt", "value": "touch someone's"}]}"#
        );
    }

    #[test]
    fn extra_fields_list_images_and_numeric_ids() -> Result<()> {
        let text = "\n{\"id\": 7, \"image\": [\"a.skeleton\"], \"length\": 12, \"conversations\": \
                    [{\"from\": \"system\", \"value\": \"s\"}, {\"from\": \"human\", \"value\": \
                    \"q\"}, {\"from\": \"gpt\", \"value\": \"é\"}]}\n";
        let recs = parse_conversations(text, Path::new("x.jsonl"))?;
        assert_eq!(recs.len(), 1);
        let r = &recs[0];
        assert_eq!(r.id, "7");
        assert_eq!(r.image.first(), Some("a.skeleton"));
        assert_eq!(r.system(), Some("s"));
        assert_eq!((r.question(), r.answer()), (Some("q"), Some("é")));
        assert_eq!(r.extra.get("length"), Some(&serde_json::json!(12)));
        assert!(
            r.to_json_line()
                .ends_with("\"value\": \"é\"}], \"length\": 12}")
        );
        Ok(())
    }

    #[test]
    fn errors_name_file_line_and_reason() {
        let cases = [
            ("{\"id\": \"a\"", "EOF"),
            ("{\"id\": \"a\", \"conversations\": []}", "image"),
            (
                "{\"id\": \"a\", \"image\": \"a\", \"conversations\": [{\"from\": \"gpt\", \
                 \"value\": \"x\"}, {\"from\": \"human\", \"value\": \"q\"}]}",
                "expected \"human\"",
            ),
            (
                "{\"id\": \"a\", \"image\": \"a\", \"conversations\": [{\"from\": \"human\", \
                 \"value\": \"q\"}]}",
                "last turn",
            ),
            (
                "{\"id\": \"a\", \"image\": \"a\", \"conversations\": [{\"from\": \"bot\", \
                 \"value\": \"q\"}]}",
                "unknown variant",
            ),
        ];
        for (line, want) in cases {
            let text = format!("\n{line}\n");
            let err = parse_conversations(&text, Path::new("d/f.jsonl"));
            let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(msg.starts_with("d/f.jsonl:2: "), "{msg}");
            assert!(msg.contains(want), "{msg} lacks {want}");
        }
    }
}
