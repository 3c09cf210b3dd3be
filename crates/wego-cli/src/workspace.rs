//! Finding a wego checkout to depend on by path.

use std::path::{Path, PathBuf};

/// Whether `dir` is the root of a wego checkout: a `Cargo.toml` with a
/// `[workspace]` and the `crates/wego-kitex` and `crates/wego-build` crates.
fn is_wego_root(dir: &Path) -> bool {
    let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
        return false;
    };
    manifest.contains("[workspace]")
        && dir.join("crates/wego-kitex/Cargo.toml").is_file()
        && dir.join("crates/wego-build/Cargo.toml").is_file()
}

/// The wego checkout containing `start` (searched upward), else the one
/// this binary was built from, if it still exists.
pub fn find_wego_root(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        if is_wego_root(d) {
            return Some(d.to_path_buf());
        }
        dir = d.parent();
    }
    // Built inside a checkout: crates/wego-cli → the workspace root.
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    is_wego_root(&built)
        .then(|| built.canonicalize().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_checkout_this_crate_lives_in() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let root = find_wego_root(&here).unwrap();
        assert!(root.join("crates/wego-cli").is_dir());
    }
}
