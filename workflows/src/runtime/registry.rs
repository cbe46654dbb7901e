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
}

impl Engine {
    /// Publishes `versioned` as the latest version of its definition, unless it already
    /// is. A published version is never changed: the same content gets the same hash.
    pub async fn publish(&self, versioned: &Versioned, author: &str) -> Result<Published, EngineError> {
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

        // A version published earlier and then superseded becomes the latest again with
        // a new sequence number; its content is unchanged.
        let seq = latest.map(|(_, seq)| seq + 1).unwrap_or(1);
        let existing = sqlx::query("SELECT 1 FROM wf_definitions WHERE definition_id = $1 AND version = $2")
            .bind(&definition.id)
            .bind(&versioned.version)
            .fetch_optional(&mut *tx)
            .await?;
        if existing.is_some() {
            sqlx::query("UPDATE wf_definitions SET seq = $1 WHERE definition_id = $2 AND version = $3")
                .bind(seq)
                .bind(&definition.id)
                .bind(&versioned.version)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO wf_definitions (definition_id, version, label, source, published_by, published_at, seq)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&definition.id)
            .bind(&versioned.version)
            .bind(&definition.label)
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
            let (definition, _) = parse_definition(&format!("{id}@{}", &version[..12]), &source);
            match definition {
                Some(definition) => self.registry.insert(&version, Arc::new(definition), latest_seq[&id] == seq),
                None => tracing::error!(definition = %id, version = %version, "stored definition no longer parses"),
            }
        }
        Ok(rows.len())
    }
}
