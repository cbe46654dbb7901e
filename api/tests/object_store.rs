//! The S3-compatible object store against a stub S3 server on 127.0.0.1 that checks
//! every SigV4 signature: round trip, retry of 503 responses, and a wrong secret.

mod common;

use std::sync::atomic::Ordering;

use common::s3_stub;
use workers::object_store::{ObjectStore, S3Store, StoreError};

#[tokio::test]
async fn s3_store_round_trip() {
    let stub = s3_stub::start().await;
    let store = S3Store::new(stub.config(s3_stub::SECRET_ACCESS_KEY)).unwrap();
    store.put("uploads/a/000000", b"first chunk".to_vec()).await.unwrap();
    assert_eq!(stub.object("uploads/a/000000").unwrap(), b"first chunk");
    assert_eq!(store.get("uploads/a/000000").await.unwrap(), b"first chunk");
    store.delete("uploads/a/000000").await.unwrap();
    assert!(matches!(store.get("uploads/a/000000").await, Err(StoreError::NotFound(_))));
    store.delete("uploads/a/000000").await.unwrap();
    assert!(matches!(store.put("../a", Vec::new()).await, Err(StoreError::InvalidKey(_))));
    assert_eq!(stub.state.rejected.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn s3_store_retries_unavailable() {
    let stub = s3_stub::start().await;
    let store = S3Store::new(stub.config(s3_stub::SECRET_ACCESS_KEY)).unwrap();
    stub.state.fail_next.store(2, Ordering::SeqCst);
    store.put("uploads/b/000000", b"kept".to_vec()).await.unwrap();
    assert_eq!(stub.state.requests.load(Ordering::SeqCst), 3, "two 503 answers, then success");
    assert_eq!(stub.object("uploads/b/000000").unwrap(), b"kept");

    stub.state.fail_next.store(workers::object_store::s3::MAX_ATTEMPTS as usize, Ordering::SeqCst);
    let error = store.get("uploads/b/000000").await.unwrap_err();
    assert!(error.to_string().contains("503"), "{error}");
}

#[tokio::test]
async fn s3_store_wrong_secret_rejected() {
    let stub = s3_stub::start().await;
    let store = S3Store::new(stub.config("not-the-secret")).unwrap();
    let error = store.put("uploads/c/000000", b"x".to_vec()).await.unwrap_err();
    assert!(error.to_string().contains("403"), "{error}");
    assert_eq!(stub.state.rejected.load(Ordering::SeqCst), 1, "a 403 is not retried");
    assert!(stub.object("uploads/c/000000").is_none());
}
