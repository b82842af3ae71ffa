//! HSM profiles: what Clavis needs to know about one make of HSM.
//!
//! PKCS#11 leaves a lot to the vendor: where the module lives, which wrapping
//! mechanisms exist, how many sessions a client should hold, and small
//! behavioural differences. Rather than hard-coding those, each HSM family gets a
//! small TOML file under `hsm-profiles/` (documented in `hsm-profiles/README.md`),
//! chosen by `root_of_trust.profile` in the node configuration.
//!
//! Unknown fields are refused, so a typo in a profile fails loudly at startup
//! instead of silently falling back to a default.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{RotError, WrapMechanism};

/// Session pool size when a profile does not say.
pub const DEFAULT_SESSION_POOL_SIZE: usize = 4;

/// Upper bound on the session pool: HSMs limit sessions per client, and more
/// sessions than worker threads buys nothing.
pub const MAX_SESSION_POOL_SIZE: usize = 256;

/// One HSM profile, loaded from a TOML file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HsmProfile {
    /// Short name shown in status (e.g. `softhsm2`).
    pub name: String,
    /// Preferred path of the PKCS#11 module. Relative paths containing a `/` are
    /// resolved against the profile's directory; a bare file name is left to the
    /// dynamic loader's search path.
    #[serde(default)]
    pub module: Option<PathBuf>,
    /// Further module paths, tried in order after `module` when it does not exist
    /// (distributions install the same module in different places).
    #[serde(default)]
    pub module_candidates: Vec<PathBuf>,
    /// How keys are wrapped under the master key.
    pub wrap_mechanism: ProfileWrapMechanism,
    /// Number of PKCS#11 sessions held open. Default [`DEFAULT_SESSION_POOL_SIZE`].
    #[serde(default = "default_session_pool_size")]
    pub session_pool_size: usize,
    /// Behavioural differences between HSMs.
    #[serde(default)]
    pub quirks: HsmQuirks,
    /// The file this profile was read from (set by [`HsmProfile::load`]).
    #[serde(skip)]
    pub path: PathBuf,
}

/// The wrapping mechanism a profile selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileWrapMechanism {
    /// `CKM_AES_KEY_WRAP_PAD` (0x210A): RFC 5649 on SoftHSM2 and most HSMs that predate PKCS#11 3.0.
    AesKeyWrapPad,
    /// `CKM_AES_KEY_WRAP_KWP` (0x210B): the PKCS#11 3.0 name for RFC 5649.
    AesKeyWrapKwp,
    /// `CKM_AES_GCM` encryption inside the HSM, for HSMs without RFC 5649 wrapping.
    AesGcm,
}

impl ProfileWrapMechanism {
    /// The value written in profiles.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileWrapMechanism::AesKeyWrapPad => "aes-key-wrap-pad",
            ProfileWrapMechanism::AesKeyWrapKwp => "aes-key-wrap-kwp",
            ProfileWrapMechanism::AesGcm => "aes-gcm",
        }
    }

    /// The PKCS#11 mechanism number.
    pub fn pkcs11_mechanism(self) -> u64 {
        match self {
            ProfileWrapMechanism::AesKeyWrapPad => 0x210A,
            ProfileWrapMechanism::AesKeyWrapKwp => 0x210B,
            ProfileWrapMechanism::AesGcm => 0x1087,
        }
    }

    /// How envelopes made with this mechanism are labelled. Both key-wrap
    /// variants produce RFC 5649 output, so they share one envelope code and a
    /// blob stays readable if a profile switches between them.
    pub fn envelope_mechanism(self) -> WrapMechanism {
        match self {
            ProfileWrapMechanism::AesKeyWrapPad | ProfileWrapMechanism::AesKeyWrapKwp => {
                WrapMechanism::AesKeyWrapPad
            }
            ProfileWrapMechanism::AesGcm => WrapMechanism::AesGcm,
        }
    }
}

impl std::fmt::Display for ProfileWrapMechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Behavioural differences between HSMs. Every field has a default that suits
/// a standards-conforming token, so most profiles leave `[quirks]` out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HsmQuirks {
    /// Create the temporary key objects of wrap and unwrap as session objects
    /// (`CKA_TOKEN = false`), which the token forgets when the session closes even if
    /// a destroy is missed. Set to false only for a token that cannot hold
    /// session objects. Default true.
    #[serde(default = "yes")]
    pub session_objects_for_temporary_keys: bool,
    /// In `aes-gcm` mode, let the HSM choose the IV instead of drawing one with
    /// `C_GenerateRandom`: Clavis passes a zeroed 12-byte IV buffer and stores what the
    /// HSM wrote into it (`CK_GCM_PARAMS.pIv`). AWS CloudHSM documents that it always
    /// does this. Whatever the setting, the IV is read back after `C_Encrypt`, so an
    /// HSM that overwrites a supplied IV is handled too. Default false.
    #[serde(default)]
    pub gcm_iv_from_hsm: bool,
    /// At startup, ask the token (`C_GetMechanismInfo`) whether it offers the
    /// profile's wrapping mechanism, so a wrong profile fails at startup rather than
    /// at the first wrap. Turn off for tokens that answer that call incorrectly.
    /// Default true.
    #[serde(default = "yes")]
    pub check_mechanisms: bool,
}

impl Default for HsmQuirks {
    fn default() -> Self {
        HsmQuirks {
            session_objects_for_temporary_keys: true,
            gcm_iv_from_hsm: false,
            check_mechanisms: true,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_session_pool_size() -> usize {
    DEFAULT_SESSION_POOL_SIZE
}

impl HsmProfile {
    /// Reads and validates the profile at `path`.
    pub fn load(path: &Path) -> Result<HsmProfile, RotError> {
        let text = std::fs::read_to_string(path).map_err(|e| RotError::Profile {
            path: path.display().to_string(),
            detail: format!("cannot read the profile: {e}"),
        })?;
        HsmProfile::parse(&text, path)
    }

    /// Parses profile text; `path` names it in errors and anchors relative module paths.
    pub fn parse(text: &str, path: &Path) -> Result<HsmProfile, RotError> {
        let err = |detail: String| RotError::Profile {
            path: path.display().to_string(),
            detail,
        };
        // toml's message names the offending key and shows the line.
        let mut profile: HsmProfile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        profile.path = path.to_path_buf();
        if profile.name.trim().is_empty() {
            return Err(err("field `name`: must not be empty".into()));
        }
        if profile.module.is_none() && profile.module_candidates.is_empty() {
            return Err(err(
                "field `module`: set `module` or `module_candidates` (the PKCS#11 module path)"
                    .into(),
            ));
        }
        let empty_path = profile
            .module
            .iter()
            .chain(profile.module_candidates.iter())
            .any(|p| p.as_os_str().is_empty());
        if empty_path {
            return Err(err(
                "field `module`/`module_candidates`: a module path is empty".into(),
            ));
        }
        if profile.session_pool_size == 0 || profile.session_pool_size > MAX_SESSION_POOL_SIZE {
            return Err(err(format!(
                "field `session_pool_size`: must be between 1 and {MAX_SESSION_POOL_SIZE}, not {}",
                profile.session_pool_size
            )));
        }
        Ok(profile)
    }

    /// The module paths to try, in order: `module`, then `module_candidates`.
    pub fn module_paths(&self) -> Vec<PathBuf> {
        let base = self.path.parent().unwrap_or_else(|| Path::new("."));
        self.module
            .iter()
            .chain(self.module_candidates.iter())
            .map(|p| resolve_module_path(base, p))
            .collect()
    }

    /// The first module path that exists. A bare file name (no `/`) is returned as
    /// is when no earlier path exists, since only the dynamic loader can find it.
    pub fn resolve_module(&self) -> Result<PathBuf, RotError> {
        let paths = self.module_paths();
        for p in &paths {
            if p.exists() || p.components().count() == 1 {
                return Ok(p.clone());
            }
        }
        Err(RotError::Module {
            path: paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            detail: format!(
                "none of the module paths of profile {} exists; install the vendor's PKCS#11 \
                 module or set root_of_trust.module",
                self.name
            ),
        })
    }
}

/// Resolves a module path from a profile or config file: absolute paths and bare
/// file names stay as they are, other relative paths are taken relative to `base`.
pub fn resolve_module_path(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() || p.components().count() == 1 {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HsmProfile, RotError> {
        HsmProfile::parse(text, Path::new("/etc/clavis/hsm-profiles/test.toml"))
    }

    fn detail(r: Result<HsmProfile, RotError>) -> String {
        match r {
            Err(RotError::Profile { detail, .. }) => detail,
            Err(other) => panic!("expected a Profile error, got {other}"),
            Ok(_) => panic!("expected a Profile error, got a profile"),
        }
    }

    #[test]
    fn minimal_profile_gets_defaults() {
        let p = parse("name = \"x\"\nmodule = \"/usr/lib/x.so\"\nwrap_mechanism = \"aes-gcm\"\n")
            .unwrap();
        assert_eq!(p.wrap_mechanism, ProfileWrapMechanism::AesGcm);
        assert_eq!(p.session_pool_size, DEFAULT_SESSION_POOL_SIZE);
        assert!(p.quirks.session_objects_for_temporary_keys);
        assert!(p.quirks.check_mechanisms);
        assert!(!p.quirks.gcm_iv_from_hsm);
    }

    #[test]
    fn all_mechanism_names_parse() {
        for (s, m) in [
            ("aes-key-wrap-pad", ProfileWrapMechanism::AesKeyWrapPad),
            ("aes-key-wrap-kwp", ProfileWrapMechanism::AesKeyWrapKwp),
            ("aes-gcm", ProfileWrapMechanism::AesGcm),
        ] {
            let p = parse(&format!(
                "name = \"x\"\nmodule = \"x.so\"\nwrap_mechanism = \"{s}\"\n"
            ))
            .unwrap();
            assert_eq!(p.wrap_mechanism, m);
            assert_eq!(m.as_str(), s);
        }
    }

    #[test]
    fn errors_name_the_field() {
        let base = "name = \"x\"\nmodule = \"/x.so\"\n";
        let d = detail(parse(&format!("{base}wrap_mechanism = \"aes-cbc\"\n")));
        assert!(d.contains("wrap_mechanism"), "{d}");
        let d = detail(parse(&format!("{base}wrap_mechansim = \"aes-gcm\"\n")));
        assert!(d.contains("wrap_mechansim"), "{d}");
        let d = detail(parse(&format!(
            "{base}wrap_mechanism = \"aes-gcm\"\nsession_pool_size = 0\n"
        )));
        assert!(d.contains("session_pool_size"), "{d}");
        let d = detail(parse(&format!(
            "{base}wrap_mechanism = \"aes-gcm\"\n[quirks]\nfoo = true\n"
        )));
        assert!(d.contains("foo"), "{d}");
        let d = detail(parse("name = \"x\"\nwrap_mechanism = \"aes-gcm\"\n"));
        assert!(d.contains("module"), "{d}");
        let d = detail(parse("module = \"/x.so\"\nwrap_mechanism = \"aes-gcm\"\n"));
        assert!(d.contains("name"), "{d}");
    }

    #[test]
    fn shipped_profiles_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("hsm-profiles");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let p = HsmProfile::load(&path).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    path.file_stem().and_then(|s| s.to_str()),
                    Some(p.name.as_str()),
                    "a profile's name matches its file name"
                );
                seen += 1;
            }
        }
        assert!(seen >= 2, "the softhsm2 and generic profiles are present");
    }

    #[test]
    fn module_paths_resolve_against_the_profile() {
        let p = parse(
            "name = \"x\"\nmodule = \"lib/x.so\"\nmodule_candidates = [\"/abs/y.so\", \"z.so\"]\n\
             wrap_mechanism = \"aes-gcm\"\n",
        )
        .unwrap();
        assert_eq!(
            p.module_paths(),
            vec![
                PathBuf::from("/etc/clavis/hsm-profiles/lib/x.so"),
                PathBuf::from("/abs/y.so"),
                PathBuf::from("z.so"),
            ]
        );
        // Neither absolute path exists, so the bare name is left to the loader.
        assert_eq!(p.resolve_module().unwrap(), PathBuf::from("z.so"));
    }

    #[test]
    fn missing_modules_are_a_module_error() {
        let p =
            parse("name = \"x\"\nmodule = \"/nonexistent/a.so\"\nwrap_mechanism = \"aes-gcm\"\n")
                .unwrap();
        assert!(matches!(p.resolve_module(), Err(RotError::Module { .. })));
    }
}
