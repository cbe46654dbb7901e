//! Rebuilds the binary when anything under `definitions/` changes: `include_dir!`
//! embeds the folder, but cargo does not see files added to it without this hint.

fn main() {
    println!("cargo:rerun-if-changed=definitions");
}
