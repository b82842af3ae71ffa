//! One SoftHSM2 token for a benchmark process, shared by benches through
//! `#[path = "common/softhsm.rs"] mod softhsm;`.

/// Where Debian's softhsm2 package puts the module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Creates token `label` (user PIN `pin`) in a SoftHSM2 configuration under `dir` and
/// points `SOFTHSM2_CONF` at it. Call before any thread exists and before any PKCS#11
/// call in the process: SoftHSM2 reads its configuration once.
pub fn token(dir: &std::path::Path, label: &str, pin: &str) {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).expect("token dir");
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .expect("softhsm2.conf");
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let out = std::process::Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", label])
        .args(["--so-pin", "so-pin-1", "--pin", pin])
        .output()
        .expect("softhsm2-util (Debian package softhsm2)");
    assert!(out.status.success(), "softhsm2-util failed");
    assert!(
        std::path::Path::new(MODULE).exists(),
        "SoftHSM2 module missing"
    );
}
