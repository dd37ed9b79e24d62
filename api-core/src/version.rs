//! API versions: the `/v{version}` path prefix as Podman 4.9.5 parses it.

/// The version a request was made with, and which tree it addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersion {
    /// The raw segment after `/v` (`1.41`, `4.0.0`, `4.9.5-dev`), `None` for bare paths.
    pub raw: Option<String>,
    /// Numeric parts (missing parts are 0).
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// Whether the path addresses the libpod tree (second segment `libpod`).
    pub libpod: bool,
}

impl ApiVersion {
    /// Parses a version segment: leading numeric dot-separated parts, anything after a
    /// non-digit ignored (`4.9.5-dev` is 4.9.5).
    pub fn parse(raw: Option<&str>, libpod: bool) -> Self {
        let mut parts = [0u64; 3];
        if let Some(r) = raw {
            for (i, p) in r.split('.').take(3).enumerate() {
                let digits: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
                parts[i] = digits.parse().unwrap_or(0);
                if digits.len() != p.len() {
                    break;
                }
            }
        }
        ApiVersion {
            raw: raw.map(String::from),
            major: parts[0],
            minor: parts[1],
            patch: parts[2],
            libpod,
        }
    }

    /// Whether the version is at least `major.minor.patch` (a bare path counts as newest).
    pub fn at_least(&self, major: u64, minor: u64, patch: u64) -> bool {
        self.raw.is_none() || (self.major, self.minor, self.patch) >= (major, minor, patch)
    }
}

/// Splits `/v{version}/rest` into `(version, "/rest")` when the segment after `/v` starts
/// with a digit and holds only `[0-9A-Za-z.-]`, like Podman's route template.
pub fn split_version(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v")?;
    let end = rest.find('/')?;
    let ver = &rest[..end];
    let ok = ver.starts_with(|c: char| c.is_ascii_digit())
        && ver
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    ok.then(|| (ver, &rest[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_like_podman() {
        assert_eq!(split_version("/v1.41/info"), Some(("1.41", "/info")));
        assert_eq!(
            split_version("/v4.9.5-dev/libpod/info"),
            Some(("4.9.5-dev", "/libpod/info"))
        );
        assert_eq!(split_version("/v5/x"), Some(("5", "/x")));
        assert_eq!(split_version("/vlatest/info"), None);
        assert_eq!(split_version("/version"), None);
        assert_eq!(split_version("/v1.41"), None);
        assert_eq!(split_version("/v1_2/info"), None);
    }

    #[test]
    fn comparisons() {
        let v = ApiVersion::parse(Some("4.9.5-dev"), true);
        assert_eq!((v.major, v.minor, v.patch), (4, 9, 5));
        assert!(v.at_least(4, 7, 0));
        assert!(!ApiVersion::parse(Some("1.41"), false).at_least(1, 42, 0));
        assert!(ApiVersion::parse(None, false).at_least(9, 9, 9));
    }
}
