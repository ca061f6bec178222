//! The manifests tenants sent, kept so that `GET .../manifest` can answer and so that the agent
//! can redeploy its leases after a restart without asking tenants again (Akash keeps them in
//! the cluster as `Manifest` CRDs; Kumo has no cluster database of its own, so one file per
//! deployment in the agent's data directory).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use kumo::DeploymentId;
use kumo_sdl::Manifest;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("manifest store: {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("manifest store: {path} is not a stored manifest: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("manifest store: owner {owner:?} is not a bech32 address")]
    InvalidOwner { owner: String },
}

/// Where accepted manifests are kept, one per deployment (the whole manifest: every group, as
/// its version covers them all). Synchronous: the API calls it from a blocking task.
pub trait ManifestStore: Send + Sync {
    /// Stores (or replaces) the manifest of `deployment`; durable when this returns.
    fn put(&self, deployment: &DeploymentId, manifest: &Manifest) -> Result<(), StoreError>;

    fn get(&self, deployment: &DeploymentId) -> Result<Option<Manifest>, StoreError>;

    /// Forgets a deployment's manifest (its leases closed). Removing a missing one succeeds.
    fn remove(&self, deployment: &DeploymentId) -> Result<(), StoreError>;

    /// Every stored manifest, for redeploying after a restart.
    fn list(&self) -> Result<Vec<(DeploymentId, Manifest)>, StoreError>;
}

/// Manifests in memory (tests; an agent without a data directory).
#[derive(Debug, Default)]
pub struct MemoryManifestStore {
    manifests: Mutex<BTreeMap<DeploymentId, Manifest>>,
}

impl MemoryManifestStore {
    pub fn new() -> MemoryManifestStore {
        MemoryManifestStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<DeploymentId, Manifest>> {
        self.manifests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ManifestStore for MemoryManifestStore {
    fn put(&self, deployment: &DeploymentId, manifest: &Manifest) -> Result<(), StoreError> {
        self.lock().insert(deployment.clone(), manifest.clone());
        Ok(())
    }

    fn get(&self, deployment: &DeploymentId) -> Result<Option<Manifest>, StoreError> {
        Ok(self.lock().get(deployment).cloned())
    }

    fn remove(&self, deployment: &DeploymentId) -> Result<(), StoreError> {
        self.lock().remove(deployment);
        Ok(())
    }

    fn list(&self) -> Result<Vec<(DeploymentId, Manifest)>, StoreError> {
        Ok(self
            .lock()
            .iter()
            .map(|(d, m)| (d.clone(), m.clone()))
            .collect())
    }
}

/// One JSON file per deployment, `<owner>-<dseq>.json`, written atomically (temporary file,
/// fsync, rename, fsync of the directory) so that a crash leaves the old or the new manifest,
/// never half of one.
#[derive(Debug)]
pub struct FileManifestStore {
    dir: PathBuf,
}

/// What a file holds: the id too, so that listing does not depend on parsing file names.
#[derive(Serialize, Deserialize)]
struct Record {
    deployment: DeploymentId,
    manifest: Manifest,
}

impl FileManifestStore {
    /// Uses `dir`, creating it if needed.
    pub fn open(dir: impl Into<PathBuf>) -> Result<FileManifestStore, StoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(FileManifestStore { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, deployment: &DeploymentId) -> Result<PathBuf, StoreError> {
        let owner = deployment.owner.as_str();
        // Bech32 addresses are lower-case letters and digits: nothing that can escape the
        // directory or collide with the separator.
        let safe = !owner.is_empty()
            && owner
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !safe {
            return Err(StoreError::InvalidOwner {
                owner: owner.to_string(),
            });
        }
        Ok(self.dir.join(format!("{owner}-{}.json", deployment.dseq)))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, created with
/// permissions `mode`; durable when this returns.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // The rename is durable once the directory entry is.
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl ManifestStore for FileManifestStore {
    fn put(&self, deployment: &DeploymentId, manifest: &Manifest) -> Result<(), StoreError> {
        let path = self.path(deployment)?;
        let record = Record {
            deployment: deployment.clone(),
            manifest: manifest.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&record).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&path, &bytes, 0o600).map_err(io(&path))
    }

    fn get(&self, deployment: &DeploymentId) -> Result<Option<Manifest>, StoreError> {
        let path = self.path(deployment)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let record = parse_record(&path, &bytes)?;
        if &record.deployment != deployment {
            return Err(StoreError::Corrupt {
                path,
                reason: format!("it holds deployment {}", record.deployment),
            });
        }
        Ok(Some(record.manifest))
    }

    fn remove(&self, deployment: &DeploymentId) -> Result<(), StoreError> {
        let path = self.path(deployment)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Files that do not parse are skipped with a warning, so that one damaged file does not
    /// stop every other lease from being redeployed.
    fn list(&self) -> Result<Vec<(DeploymentId, Manifest)>, StoreError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let path = entry.map_err(io(&self.dir))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let bytes = fs::read(&path).map_err(io(&path))?;
            match parse_record(&path, &bytes) {
                Ok(r) => out.push((r.deployment, r.manifest)),
                Err(e) => tracing::warn!(error = %e, "skipping a stored manifest"),
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

fn parse_record(path: &Path, bytes: &[u8]) -> Result<Record, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}
