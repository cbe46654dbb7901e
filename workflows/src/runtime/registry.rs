//! Published definition versions, in memory. Every version an instance may be pinned to
//! is loaded, not only the latest, so a running instance finishes on the definition it
//! started with.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sqlx::Row;

use super::{Engine, EngineError};
use crate::definition::parse::parse_definition;
use crate::definition::set::Versioned;
use crate::definition::Definition;

#[derive(Default)]
pub struct Registry {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Definition by version hash.
    by_version: HashMap<String, Arc<Definition>>,
    /// Latest version hash by definition id.
    latest: HashMap<String, String>,
}

impl Registry {
    pub fn insert(&self, version: &str, definition: Arc<Definition>, latest: bool) {
        let mut inner = self.inner.write().expect("registry lock");
        if latest {
            inner.latest.insert(definition.id.clone(), version.to_string());
        }
        inner.by_version.insert(version.to_string(), definition);
    }

    pub fn by_version(&self, version: &str) -> Option<Arc<Definition>> {
        self.inner.read().expect("registry lock").by_version.get(version).cloned()
    }

    /// Returns the latest version of `definition_id` and its definition.
    pub fn latest(&self, definition_id: &str) -> Option<(String, Arc<Definition>)> {
        let inner = self.inner.read().expect("registry lock");
        let version = inner.latest.get(definition_id)?;
        Some((version.clone(), inner.by_version.get(version)?.clone()))
    }

    pub fn definition_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.inner.read().expect("registry lock").latest.keys().cloned().collect();
        ids.sort();
        ids
    }
}

/// What publishing did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Published {
    /// A new version was stored and is now the latest.
    New,
    /// The same content was already the latest version; nothing changed.
    Unchanged,
    /// The content was published before and has since been superseded; start-up
    /// publishing leaves it so, since staff published the newer version on purpose.
    Superseded,
}

/// One published version as stored: content hash, label, author and time.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VersionInfo {
    pub definition_id: String,
    pub version: String,
    pub label: String,
    pub published_by: String,
    pub published_at: i64,
    /// Publish order within the definition; the highest is the latest.
    pub seq: i64,
}

impl Engine {
    /// Publishes `versioned` as the latest version of its definition, unless it already
    /// is. A published version is never changed: the same content gets the same hash,
    /// and publishing an earlier version again only makes it the latest once more.
    pub async fn publish(&self, versioned: &Versioned, author: &str, label: &str) -> Result<Published, EngineError> {
        self.publish_with(versioned, author, label, true).await
    }

    /// Publishes `versioned` only if its content was never published before. Start-up
    /// uses this, so that restarting with older files does not undo a version staff
    /// published since.
    pub async fn publish_if_new(&self, versioned: &Versioned, author: &str, label: &str) -> Result<Published, EngineError> {
        self.publish_with(versioned, author, label, false).await
    }

    async fn publish_with(&self, versioned: &Versioned, author: &str, label: &str, republish: bool) -> Result<Published, EngineError> {
        let definition = &versioned.definition;
        let mut tx = self.db.begin_write().await?;

        let latest: Option<(String, i64)> = sqlx::query(
            "SELECT version, seq FROM wf_definitions WHERE definition_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(&definition.id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| (row.get::<String, _>(0), row.get::<i64, _>(1)));

        if latest.as_ref().is_some_and(|(version, _)| *version == versioned.version) {
            tx.commit().await?;
            self.registry.insert(&versioned.version, definition.clone(), true);
            return Ok(Published::Unchanged);
        }

        let seq = latest.map(|(_, seq)| seq + 1).unwrap_or(1);
        let existing = sqlx::query("SELECT 1 FROM wf_definitions WHERE definition_id = $1 AND version = $2")
            .bind(&definition.id)
            .bind(&versioned.version)
            .fetch_optional(&mut *tx)
            .await?;
        if existing.is_some() {
            if !republish {
                tx.commit().await?;
                self.registry.insert(&versioned.version, definition.clone(), false);
                return Ok(Published::Superseded);
            }
            // Only the order changes; the stored content, label and author stay as
            // first published.
            sqlx::query("UPDATE wf_definitions SET seq = $1 WHERE definition_id = $2 AND version = $3")
                .bind(seq)
                .bind(&definition.id)
                .bind(&versioned.version)
                .execute(&mut *tx)
                .await?;
        } else {
            let label = if label.is_empty() { definition.label.as_str() } else { label };
            sqlx::query(
                "INSERT INTO wf_definitions (definition_id, version, label, source, published_by, published_at, seq)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&definition.id)
            .bind(&versioned.version)
            .bind(label)
            .bind(&versioned.source)
            .bind(author)
            .bind(self.now_ms())
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;

        self.registry.insert(&versioned.version, definition.clone(), true);
        tracing::info!(definition = %definition.id, version = %&versioned.version[..12], author, "definition published");
        Ok(Published::New)
    }

    /// Returns the latest published version of `definition_id`. It is read from the
    /// database, so a version another process published is used at once.
    pub async fn latest_definition(&self, definition_id: &str) -> Result<(String, Arc<Definition>), EngineError> {
        let version: Option<String> = sqlx::query_scalar("SELECT version FROM wf_definitions WHERE definition_id = $1 ORDER BY seq DESC LIMIT 1")
            .bind(definition_id)
            .fetch_optional(&self.db.pool)
            .await?;
        let version = version.ok_or_else(|| EngineError::UnknownDefinition(definition_id.to_string()))?;
        let definition = self.definition_version(&version).await?;
        Ok((version, definition))
    }

    /// Returns the definition of `version`, loading it from the database when this
    /// process has not seen it yet.
    pub async fn definition_version(&self, version: &str) -> Result<Arc<Definition>, EngineError> {
        if let Some(definition) = self.registry.by_version(version) {
            return Ok(definition);
        }
        let row = sqlx::query("SELECT definition_id, source FROM wf_definitions WHERE version = $1")
            .bind(version)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| EngineError::UnknownVersion(version.to_string()))?;
        let id: String = row.get(0);
        let source: String = row.get(1);
        let definition = parse_stored(&id, version, &source).ok_or_else(|| EngineError::UnknownVersion(version.to_string()))?;
        self.registry.insert(version, definition.clone(), false);
        Ok(definition)
    }

    /// Returns every published version of `definition_id`, latest first.
    pub async fn versions(&self, definition_id: &str) -> Result<Vec<VersionInfo>, EngineError> {
        let rows = sqlx::query(
            "SELECT definition_id, version, label, published_by, published_at, seq FROM wf_definitions
             WHERE definition_id = $1 ORDER BY seq DESC",
        )
        .bind(definition_id)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| VersionInfo {
                definition_id: row.get(0),
                version: row.get(1),
                label: row.get(2),
                published_by: row.get(3),
                published_at: row.get(4),
                seq: row.get(5),
            })
            .collect())
    }

    /// Returns the stored source text of `version`.
    pub async fn version_source(&self, version: &str) -> Result<String, EngineError> {
        sqlx::query_scalar("SELECT source FROM wf_definitions WHERE version = $1")
            .bind(version)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| EngineError::UnknownVersion(version.to_string()))
    }

    /// Loads every stored version into the registry, so instances pinned to older
    /// versions keep running after a restart.
    pub async fn load_published(&self) -> Result<usize, EngineError> {
        let rows = sqlx::query("SELECT definition_id, version, source, seq FROM wf_definitions ORDER BY definition_id, seq")
            .fetch_all(&self.db.pool)
            .await?;
        let mut latest_seq: HashMap<String, i64> = HashMap::new();
        for row in &rows {
            let id: String = row.get(0);
            let seq: i64 = row.get(3);
            let entry = latest_seq.entry(id).or_insert(seq);
            *entry = (*entry).max(seq);
        }
        for row in &rows {
            let id: String = row.get(0);
            let version: String = row.get(1);
            let source: String = row.get(2);
            let seq: i64 = row.get(3);
            if let Some(definition) = parse_stored(&id, &version, &source) {
                self.registry.insert(&version, definition, latest_seq[&id] == seq);
            }
        }
        Ok(rows.len())
    }
}

/// Parses a stored version. A stored version that no longer parses (after a parser
/// change) is logged; instances pinned to it report `unknown_version`.
fn parse_stored(id: &str, version: &str, source: &str) -> Option<Arc<Definition>> {
    let (definition, _) = parse_definition(&format!("{id}@{}", &version[..version.len().min(12)]), source);
    if definition.is_none() {
        tracing::error!(definition = %id, version = %version, "stored definition no longer parses");
    }
    definition.map(Arc::new)
}

impl Engine {
    /// Returns the full version of `definition_id` that starts with `prefix` (at least 8
    /// hex characters, as printed by the CLI), or `None` when none or several match.
    pub async fn resolve_version(&self, definition_id: &str, prefix: &str) -> Result<Option<String>, EngineError> {
        if prefix.len() < 8 || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let matches: Vec<String> = sqlx::query_scalar("SELECT version FROM wf_definitions WHERE definition_id = $1 AND version LIKE $2 ORDER BY seq")
            .bind(definition_id)
            .bind(format!("{}%", prefix.to_ascii_lowercase()))
            .fetch_all(&self.db.pool)
            .await?;
        Ok(if matches.len() == 1 { matches.into_iter().next() } else { None })
    }
}
