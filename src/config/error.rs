//! Configuration errors. Every error about a value names its key by the full dotted path
//! (`sip.listen[1]`, `udp.batch`), so an operator can find it without reading source code.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// An error found in the named file.
    #[error("{}: {source}", path.display())]
    InFile {
        path: PathBuf,
        source: Box<ConfigError>,
    },
    /// The text is not valid TOML.
    #[error("invalid TOML at {at}: {message}")]
    Syntax { at: Location, message: String },
    /// A key is unknown, or its value has the wrong type or is out of range.
    #[error("{key}: {message}{}", AtSuffix(*at))]
    Key {
        key: String,
        message: String,
        /// Where the TOML text puts the key or value, when known.
        at: Option<Location>,
    },
    /// The process's CPU affinity mask could not be read.
    #[error("cannot read this process's CPU affinity mask: {0}")]
    Affinity(io::Error),
}

impl ConfigError {
    /// An error about the value of `key`, found after parsing (so with no location).
    pub fn key(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Key {
            key: key.into(),
            message: message.into(),
            at: None,
        }
    }

    /// The dotted path of the key this error is about, if it is about one.
    pub fn key_path(&self) -> Option<&str> {
        match self {
            ConfigError::Key { key, .. } => Some(key),
            ConfigError::InFile { source, .. } => source.key_path(),
            ConfigError::Read { .. } | ConfigError::Syntax { .. } | ConfigError::Affinity(_) => {
                None
            }
        }
    }

    /// Where in the TOML text the error is, if known.
    pub fn location(&self) -> Option<Location> {
        match self {
            ConfigError::Key { at, .. } => *at,
            ConfigError::Syntax { at, .. } => Some(*at),
            ConfigError::InFile { source, .. } => source.location(),
            ConfigError::Read { .. } | ConfigError::Affinity(_) => None,
        }
    }

    /// This error, attributed to the file at `path`.
    pub fn in_file(self, path: &Path) -> ConfigError {
        match self {
            ConfigError::Read { .. } | ConfigError::InFile { .. } => self,
            other => ConfigError::InFile {
                path: path.to_owned(),
                source: Box::new(other),
            },
        }
    }
}

/// A position in the TOML text, both 1-based; the column counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The position of byte `offset` in `text` (clamped to the end of the text).
    pub fn of_offset(text: &str, offset: usize) -> Location {
        let mut end = offset.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &text[..end];
        let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// ` (line L, column C)` after a key error whose location is known.
struct AtSuffix(Option<Location>);

impl fmt::Display for AtSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(at) => write!(f, " ({at})"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_characters() {
        let text = "a = 1\n[sip]\nlisten = [\"é\", \"x\"]\n";
        assert_eq!(
            Location::of_offset(text, 0),
            Location { line: 1, column: 1 }
        );
        assert_eq!(
            Location::of_offset(text, 6),
            Location { line: 2, column: 1 }
        );
        let x = text.find("\"x\"").unwrap();
        assert_eq!(
            Location::of_offset(text, x),
            Location {
                line: 3,
                column: 16
            }
        );
        assert_eq!(Location::of_offset(text, 10_000).line, 4);
    }

    #[test]
    fn key_error_display_names_the_key_and_location() {
        let err = ConfigError::Key {
            key: "udp.batch".into(),
            message: "0 is out of range 1..=1024".into(),
            at: Some(Location { line: 4, column: 9 }),
        };
        assert_eq!(
            err.to_string(),
            "udp.batch: 0 is out of range 1..=1024 (line 4, column 9)"
        );
        let err = err.in_file(Path::new("/etc/drongo/drongo.toml"));
        assert_eq!(
            err.to_string(),
            "/etc/drongo/drongo.toml: udp.batch: 0 is out of range 1..=1024 (line 4, column 9)"
        );
        assert_eq!(err.key_path(), Some("udp.batch"));
        assert_eq!(err.location(), Some(Location { line: 4, column: 9 }));
    }
}
