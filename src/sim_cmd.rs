//! `certflow provincial-sim`: the provincial platform's receiving side on loopback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use workers::provincial::sim::{SimOptions, serve};

pub async fn run(listen: SocketAddr, store: PathBuf, key_id: String, secret: String) -> anyhow::Result<ExitCode> {
    let mut options = SimOptions::new(secret.into_bytes());
    options.key_id = key_id;
    eprintln!("省平台模拟器监听 http://{listen}（记录保存在 {}）/ provincial simulator on http://{listen}", store.display());
    serve(listen, store, options).await?;
    Ok(ExitCode::SUCCESS)
}
