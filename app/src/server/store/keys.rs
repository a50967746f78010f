//! `signing_keys`: the token signing keys, shared by every instance on the database.

use super::{Store, from_i64, to_i64};
use crate::server::keys::{KeyAlgorithm, KeyMaterial};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    private_key: String,
    public_key: Option<String>,
    created_at: i64,
}

impl Store {
    pub async fn insert_signing_key(&self, key: &KeyMaterial) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_key, public_key, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.kid)
        .bind(key.alg.as_str())
        .bind(B64.encode(&key.private_key))
        .bind(key.public_key.as_ref().map(|k| B64.encode(k)))
        .bind(to_i64(key.created_at))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Every stored key of `alg`, oldest first. Rows that don't decode are skipped and logged.
    pub async fn signing_keys(&self, alg: KeyAlgorithm) -> Result<Vec<KeyMaterial>, sqlx::Error> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT kid, private_key, public_key, created_at FROM signing_keys WHERE alg = $1 ORDER BY created_at, kid",
        )
        .bind(alg.as_str())
        .fetch_all(&self.read)
        .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for r in rows {
            let private_key = B64.decode(&r.private_key);
            let public_key = r.public_key.map(|k| B64.decode(k)).transpose();
            match (private_key, public_key) {
                (Ok(private_key), Ok(public_key)) => keys.push(KeyMaterial {
                    kid: r.kid,
                    alg,
                    private_key,
                    public_key,
                    created_at: from_i64(r.created_at),
                }),
                _ => tracing::error!(kid = %r.kid, "stored signing key is not valid base64; ignored"),
            }
        }
        Ok(keys)
    }
}
