//! Akash SDL v2.0 / v2.1 for Kumo.
//!
//! [`parse`] reads a `deploy.yaml` and returns what Akash's own Go implementation
//! (`akash-network/chain-sdk` `go/sdl`, the one its provider and CLI use) produces: the
//! deployment's group specs, the manifest, and the manifest version hash, byte-identical to
//! Akash's. Validation follows the Go implementation: unknown nested keys are ignored with a
//! [`Warning`], everything else Akash rejects is an [`Error`] that names its path in the file.
//!
//! ```
//! let sdl = kumo_sdl::parse(r#"
//! version: "2.0"
//! services:
//!   web:
//!     image: nginx
//!     expose:
//!       - port: 80
//!         to: [{global: true}]
//! profiles:
//!   compute:
//!     web:
//!       resources: {cpu: {units: 0.5}, memory: {size: 512Mi}, storage: {size: 1Gi}}
//!   placement:
//!     dc:
//!       pricing: {web: {denom: uakt, amount: 100}}
//! deployment:
//!   web: {dc: {profile: web, count: 1}}
//! "#).unwrap();
//! assert_eq!(sdl.groups[0].resources[0].resources.cpu.units, 500);
//! assert_eq!(sdl.version_hex().len(), 64);
//! ```

mod build;
pub mod error;
mod input;
pub mod manifest;
pub mod units;
mod yaml;
mod yaml_fast;

use std::time::Duration;

pub use error::{Error, ErrorKind, Path};
pub use input::Version;
pub use manifest::Manifest;

use kumo::GroupSpec;

/// Something Kumo accepted but the author probably did not mean, such as an unknown key that is
/// ignored (Akash's Go parser ignores those silently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub path: Path,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A parsed and validated SDL.
#[derive(Debug, Clone)]
pub struct Sdl {
    /// Which SDL rules applied (`2.0`, or `2.1` for any version from 2.1 on).
    pub version: Version,
    /// The deployment groups, sorted by name: one order each on the market.
    pub groups: Vec<GroupSpec>,
    /// What the tenant sends to the winning providers.
    pub manifest: Manifest,
    /// `reclamation.min_window`, if set.
    pub reclamation_min_window: Option<Duration>,
    pub warnings: Vec<Warning>,
}

impl Sdl {
    /// The manifest version (SHA-256 of the sorted manifest JSON), stored on chain with the
    /// deployment; providers check the manifest they receive against it.
    pub fn manifest_version(&self) -> [u8; 32] {
        self.manifest.version()
    }

    /// [`Sdl::manifest_version`] as lowercase hex.
    pub fn version_hex(&self) -> String {
        hex::encode(self.manifest_version())
    }
}

/// Parses and validates an SDL document.
pub fn parse(src: &str) -> Result<Sdl, Error> {
    let root = yaml::parse(src)?.ok_or_else(|| Error::new(Path::root(), ErrorKind::Empty))?;
    if root.is_null() {
        return Err(Error::new(Path::root(), ErrorKind::Empty));
    }
    let (version, version_warning) = read_version(&root)?;
    let mut decoder = input::Decoder {
        warnings: version_warning.into_iter().collect(),
    };
    let input = decoder.document(&root)?;
    let reclamation_min_window = match &input.reclamation {
        None => None,
        Some(window) => {
            let path = Path::of(&["reclamation", "min_window"]);
            let ns = units::parse_duration(window).map_err(|k| Error::new(path.clone(), k))?;
            if ns <= 0 {
                return Err(Error::new(path, ErrorKind::NonPositiveReclamation));
            }
            Some(Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX)))
        }
    };
    let mut warnings = decoder.warnings;
    build::validate(&input, version, &mut warnings)?;
    let (groups, manifest) = build::build(&input, &mut warnings)?;
    Ok(Sdl {
        version,
        groups,
        manifest,
        reclamation_min_window,
        warnings,
    })
}

/// Akash reads `version` with semver's tolerant parser: `2` and `2.0` are 2.0; anything from 2.1
/// on uses the 2.1 rules.
fn read_version(root: &yaml::Node) -> Result<(Version, Option<Warning>), Error> {
    let path = Path::of(&["version"]);
    let entries = root.entries(&error::At::root())?;
    let Some((_, _, node)) = entries.iter().find(|(k, _, _)| *k == "version") else {
        return Err(Error::new(Path::root(), ErrorKind::MissingVersion));
    };
    let text = node.scalar().unwrap_or_default().to_string();
    let v = units::SemVer::parse_tolerant(&text).map_err(|reason| {
        Error::new(
            path.clone(),
            ErrorKind::InvalidVersion {
                version: text.clone(),
                reason: reason.to_string(),
            },
        )
    })?;
    if v.is_v2_0() {
        Ok((Version::V2_0, None))
    } else if v.at_least_v2_1() {
        let newer = (v.major, v.minor, v.patch) != (2, 1, 0);
        let warning = newer.then(|| Warning {
            path,
            message: format!(
                "version {text:?} is read with the 2.1 rules (the newest SDL version)"
            ),
        });
        Ok((Version::V2_1, warning))
    } else {
        Err(Error::new(
            path,
            ErrorKind::UnsupportedVersion { version: text },
        ))
    }
}
