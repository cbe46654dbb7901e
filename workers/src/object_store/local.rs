//! Objects as files under a root directory. A put writes a temporary file beside the
//! target and renames it, so a reader never sees half an object.

use std::path::PathBuf;

use async_trait::async_trait;

use super::{ObjectStore, StoreError, check_key};

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Creates a store under `root`; the folder is created on the first put.
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

fn failed(action: &str, path: &std::path::Path, error: std::io::Error) -> StoreError {
    StoreError::Failed(format!("{action} {}: {error}", path.display()))
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|error| failed("create", parent, error))?;
        }
        let temporary = path.with_extension(format!("partial-{}", uuid::Uuid::now_v7()));
        tokio::fs::write(&temporary, &bytes).await.map_err(|error| failed("write", &temporary, error))?;
        tokio::fs::rename(&temporary, &path).await.map_err(|error| failed("rename", &path, error))
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(bytes),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NotFound(key.to_string())),
            Err(error) => Err(failed("read", &path, error)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(failed("remove", &path, error)),
            _ => Ok(()),
        }
    }

    fn describe(&self) -> String {
        format!("local directory {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_delete_round_trip() {
        let dir = std::env::temp_dir().join(format!("certflow-local-store-{}", uuid::Uuid::now_v7()));
        let store = LocalStore::new(&dir);
        store.put("a/b/one", b"first".to_vec()).await.unwrap();
        store.put("a/b/one", b"second".to_vec()).await.unwrap();
        assert_eq!(store.get("a/b/one").await.unwrap(), b"second");
        store.delete("a/b/one").await.unwrap();
        assert!(matches!(store.get("a/b/one").await, Err(StoreError::NotFound(_))));
        store.delete("a/b/one").await.unwrap();
        assert!(matches!(store.put("../escape", Vec::new()).await, Err(StoreError::InvalidKey(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
