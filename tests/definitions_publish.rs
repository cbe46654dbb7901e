//! `certflow definitions publish | versions | plan-migration | migrate` through the real
//! binary, on SQLite and on PostgreSQL: staff change a definition while an instance
//! runs, and move it only by a checked plan.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::Engine;
use workflows::testing::TempDir;
use workflows::SystemClock;

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/definitions");

fn certflow(db: &Db, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certflow")).env("DATABASE_URL", &db.url).env("USER", "staff-li").args(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

both_backends!(publish_then_migrate_through_the_cli, |db: Db| async move {
    let dir = TempDir::new();
    copy_dir(Path::new(SHIPPED), &dir.path);
    let folder = dir.path.to_str().unwrap().to_string();

    let first = certflow(&db, &["definitions", "publish", &folder, "--label", "初版"]);
    assert!(first.status.success(), "{}{}", stdout(&first), String::from_utf8_lossy(&first.stderr));
    assert!(stdout(&first).contains("已发布 registration 新版本"), "{}", stdout(&first));

    // An instance starts on the first version.
    let engine = Engine::new(db.clone(), Arc::new(SystemClock));
    let instance = engine.start("registration", &[("mobile", "13800000001".to_string())], Default::default()).await.unwrap();
    let v1 = instance.version.clone();

    // A broken edit is refused whole; a good one becomes the latest version.
    let file = dir.path.join("pipelines/registration.yaml");
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, original.replace("initial: visitor", "initial: nobody")).unwrap();
    let refused = certflow(&db, &["definitions", "publish", &folder]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stdout(&refused).contains("[UNKNOWN_STATE]"), "{}", stdout(&refused));
    std::fs::write(&file, original.replace("label: 注册与信息完善", "label: 注册与信息完善（第二版）")).unwrap();
    let second = certflow(&db, &["definitions", "publish", &folder, "--label", "改名称"]);
    assert!(second.status.success());
    assert!(stdout(&second).contains("annual_ce 内容未变"), "{}", stdout(&second));

    let versions = stdout(&certflow(&db, &["definitions", "versions", "registration"]));
    let lines: Vec<&str> = versions.lines().collect();
    assert_eq!(lines.len(), 2, "{versions}");
    assert!(lines[0].starts_with('*'), "{versions}");
    assert!(lines[0].contains("改名称"), "{versions}");
    assert!(lines[0].contains("staff-li"), "{versions}");
    assert!(lines[1].contains(&v1[..12]));
    assert_eq!(engine.instance(&instance.id).await.unwrap().version, v1, "publishing never moves a running instance");

    // A map into a missing state is refused by the plan and by migrate.
    let bad = certflow(&db, &["definitions", "plan-migration", "registration", "--from", &v1[..8], "--map", "visitor=nowhere"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stdout(&bad).contains("[MIGRATION_TARGET_MISSING]"), "{}", stdout(&bad));
    assert!(stdout(&bad).contains(&instance.id), "{}", stdout(&bad));
    let bad = certflow(&db, &["definitions", "migrate", "registration", "--from", &v1[..8], "--map", "visitor=nowhere"]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(engine.instance(&instance.id).await.unwrap().version, v1);

    // The plain plan moves the instance to the latest version, state kept.
    let plan = certflow(&db, &["definitions", "plan-migration", "registration", "--from", &v1[..8], "--json"]);
    assert!(plan.status.success(), "{}", stdout(&plan));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(plan["moves"][0]["from_state"], "visitor");
    assert_eq!(plan["moves"][0]["instances"], 1);
    let applied = certflow(&db, &["definitions", "migrate", "registration", "--from", &v1[..8]]);
    assert!(applied.status.success(), "{}", stdout(&applied));
    assert!(stdout(&applied).contains("已迁移 1 个实例"), "{}", stdout(&applied));
    let moved = engine.instance(&instance.id).await.unwrap();
    assert_ne!(moved.version, v1);
    let last = engine.history(&instance.id, 0, 100).await.unwrap().pop().unwrap();
    assert_eq!((last.kind.as_str(), last.detail["by"].as_str()), ("migrated", Some("staff-li")));
});

#[test]
fn svg_diagram_of_the_shipped_pipeline() {
    let output = Command::new(env!("CARGO_BIN_EXE_certflow")).args(["definitions", "diagram", "annual_ce", "--dir", SHIPPED, "--format", "svg"]).output().unwrap();
    assert!(output.status.success());
    let svg = String::from_utf8(output.stdout).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..200.min(svg.len())]);
    assert!(svg.contains("学分卡"));
}
