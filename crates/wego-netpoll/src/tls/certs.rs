//! Certificates and keys: [`Identity`] (a chain and its private key),
//! [`RootCerts`] (trust anchors) and [`CertificateSet`] (a server's
//! identities by SNI name), all read from PEM.
//!
//! Reading a file here is a blocking call: build these at startup, or
//! through [`rt::spawn_blocking`](crate::rt::spawn_blocking) when reloading
//! from a running server.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::RootCertStore;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, DnsName, PrivateKeyDer};

use super::{provider, rustls_io};
use crate::{Error, Result};

/// A certificate chain and the private key of its first certificate: what
/// a server presents, or a client under mutual TLS.
///
/// Cloning is cheap. `Debug` never shows the key.
#[derive(Clone)]
pub struct Identity {
    key: Arc<CertifiedKey>,
}

impl Identity {
    /// Reads a chain (end-entity first) and its key (PKCS#8, PKCS#1 or
    /// SEC1) from PEM.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] when the chain has no certificate, the key is
    /// missing or unsupported, or the key does not belong to the first
    /// certificate.
    pub fn from_pem(chain: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Result<Self> {
        let chain = read_certs(chain.as_ref(), "certificate chain")?;
        let key =
            PrivateKeyDer::from_pem_slice(key.as_ref()).map_err(|e| pem_error("private key", e))?;
        Self::from_parsed(chain, key)
    }

    /// Reads a chain and its key from PEM files, as [`from_pem`](Self::from_pem).
    ///
    /// # Errors
    ///
    /// As [`from_pem`](Self::from_pem), and when a file cannot be read
    /// (the message names it).
    pub fn from_pem_files(chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self> {
        let chain = read_file(chain.as_ref())?;
        let key = read_file(key.as_ref())?;
        Self::from_pem(chain, key)
    }

    /// Builds an identity from DER: a chain (end-entity first) and its
    /// key (PKCS#8, PKCS#1 or SEC1, told apart by its structure).
    ///
    /// # Errors
    ///
    /// As [`from_pem`](Self::from_pem).
    pub fn from_der(chain: Vec<Vec<u8>>, key: Vec<u8>) -> Result<Self> {
        let chain = chain.into_iter().map(CertificateDer::from).collect();
        let key = PrivateKeyDer::try_from(key)
            .map_err(|e| Error::config(format!("private key: not a DER private key ({e})")))?;
        Self::from_parsed(chain, key)
    }

    fn from_parsed(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self> {
        if chain.is_empty() {
            return Err(Error::config("certificate chain: no certificate"));
        }
        let key = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| {
            Error::config_caused("private key does not fit the certificate", rustls_io(e))
        })?;
        Ok(Self { key: Arc::new(key) })
    }

    /// The chain in DER, end-entity first.
    pub fn chain_der(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        self.key.cert.iter().map(|c| c.as_ref())
    }

    pub(crate) fn certified_key(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.key)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("chain_len", &self.key.cert.len())
            .finish_non_exhaustive()
    }
}

/// Trust anchors: the certificate authorities a client trusts for
/// servers, or a server for client certificates.
#[derive(Clone)]
pub struct RootCerts {
    store: RootCertStore,
}

impl RootCerts {
    /// No trust anchors; add some with [`add_pem`](Self::add_pem).
    pub fn empty() -> Self {
        Self {
            store: RootCertStore::empty(),
        }
    }

    /// Reads every certificate in a PEM bundle as a trust anchor.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] when the bundle holds no certificate or one
    /// that is not a usable trust anchor.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Self> {
        let mut roots = Self::empty();
        roots.add_pem(pem)?;
        Ok(roots)
    }

    /// Reads a PEM bundle file, as [`from_pem`](Self::from_pem).
    ///
    /// # Errors
    ///
    /// As [`from_pem`](Self::from_pem), and when the file cannot be read.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_pem(read_file(path.as_ref())?)
    }

    /// The operating system's trust anchors (`rustls-native-certs`: the
    /// system bundle on Linux, `SSL_CERT_FILE` / `SSL_CERT_DIR` when set).
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] when the system has none that parse.
    pub fn native() -> Result<Self> {
        let found = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        let (added, _ignored) = store.add_parsable_certificates(found.certs);
        if added == 0 {
            let why = found
                .errors
                .first()
                .map_or_else(|| "none installed".to_owned(), ToString::to_string);
            return Err(Error::config(format!(
                "no system root certificates could be loaded ({why})"
            )));
        }
        Ok(Self { store })
    }

    /// Adds every certificate in a PEM bundle.
    ///
    /// # Errors
    ///
    /// As [`from_pem`](Self::from_pem); nothing is added on error.
    pub fn add_pem(&mut self, pem: impl AsRef<[u8]>) -> Result<()> {
        let certs = read_certs(pem.as_ref(), "root certificates")?;
        let mut store = self.store.clone();
        for cert in certs {
            store.add(cert).map_err(|e| {
                Error::config_caused("root certificates: not a trust anchor", rustls_io(e))
            })?;
        }
        self.store = store;
        Ok(())
    }

    /// How many trust anchors there are.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Returns true when there is no trust anchor.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    pub(crate) fn store(&self) -> Arc<RootCertStore> {
        Arc::new(self.store.clone())
    }
}

impl fmt::Debug for RootCerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootCerts")
            .field("len", &self.len())
            .finish()
    }
}

/// A server's certificates: one [`Identity`] per SNI name and a default
/// for clients that send no name or a name not in the set.
///
/// Names match case-insensitively; `*.example.com` matches one label
/// (`a.example.com`, not `example.com` or `a.b.example.com`), after exact
/// names.
#[derive(Clone, Default)]
pub struct CertificateSet {
    default: Option<Identity>,
    by_name: HashMap<String, Identity>,
}

impl CertificateSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the identity for clients whose name matches no entry.
    pub fn with_default(mut self, identity: Identity) -> Self {
        self.default = Some(identity);
        self
    }

    /// Adds the identity for SNI `name` (`api.example.com` or
    /// `*.example.com`), replacing an earlier one for the same name.
    pub fn with_name(mut self, name: impl Into<String>, identity: Identity) -> Self {
        self.by_name
            .insert(name.into().to_ascii_lowercase(), identity);
        self
    }

    /// Returns true when the set has no identity at all.
    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.by_name.is_empty()
    }

    /// Checks that the set can serve: at least one identity, and every
    /// name a DNS name (with an optional leading `*.`).
    pub(crate) fn check(&self) -> Result<()> {
        if self.is_empty() {
            return Err(Error::config(
                "tls certificates: no identity (set a default or one for a server name)",
            ));
        }
        for name in self.by_name.keys() {
            let bare = name.strip_prefix("*.").unwrap_or(name);
            if DnsName::try_from(bare).is_err() {
                return Err(Error::config(format!(
                    "tls certificates: `{name}` is not a DNS name"
                )));
            }
        }
        Ok(())
    }

    fn lookup(&self, name: Option<&str>) -> Option<&Identity> {
        let Some(name) = name else {
            return self.default.as_ref();
        };
        let name = name.to_ascii_lowercase();
        self.by_name
            .get(&name)
            .or_else(|| {
                let (_, parent) = name.split_once('.')?;
                self.by_name.get(&format!("*.{parent}"))
            })
            .or(self.default.as_ref())
    }
}

impl fmt::Debug for CertificateSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.by_name.keys().collect();
        names.sort();
        f.debug_struct("CertificateSet")
            .field("has_default", &self.default.is_some())
            .field("names", &names)
            .finish()
    }
}

/// The server's certificate resolver: the current [`CertificateSet`],
/// swapped whole by a reload. A handshake reads it once, in its
/// ClientHello, so a connection keeps the certificate it started with.
#[derive(Debug)]
pub(crate) struct Resolver {
    current: RwLock<Arc<CertificateSet>>,
}

impl Resolver {
    pub(crate) fn new(set: CertificateSet) -> Self {
        Self {
            current: RwLock::new(Arc::new(set)),
        }
    }

    pub(crate) fn replace(&self, set: CertificateSet) {
        let set = Arc::new(set);
        // A poisoned lock only means a reader panicked; the Arc inside is
        // whole either way.
        match self.current.write() {
            Ok(mut guard) => *guard = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
    }

    fn snapshot(&self) -> Arc<CertificateSet> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let set = self.snapshot();
        let found = set.lookup(hello.server_name()).map(Identity::certified_key);
        if found.is_none() {
            tracing::debug!(server_name = ?hello.server_name(), "tls: no certificate for the requested name");
        }
        found
    }
}

fn read_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, e))?;
    if certs.is_empty() {
        return Err(Error::config(format!("{what}: no PEM certificate found")));
    }
    Ok(certs)
}

fn pem_error(what: &str, err: pem::Error) -> Error {
    Error::config_caused(
        format!("{what}: not valid PEM"),
        io::Error::new(io::ErrorKind::InvalidData, err.to_string()),
    )
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Error::config_caused(format!("cannot read {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(name: &str) -> Identity {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        Identity::from_pem(cert.pem(), key.serialize_pem()).unwrap()
    }

    fn leaf(id: Option<&Identity>) -> Option<&[u8]> {
        id.and_then(|id| id.chain_der().next())
    }

    #[test]
    fn lookup_prefers_exact_then_wildcard_then_default() {
        let (exact, wild, default) = (identity("a.test"), identity("x.test"), identity("d.test"));
        let set = CertificateSet::new()
            .with_name("A.test", exact.clone())
            .with_name("*.test", wild.clone())
            .with_default(default.clone());
        set.check().unwrap();
        assert_eq!(leaf(set.lookup(Some("a.TEST"))), leaf(Some(&exact)));
        assert_eq!(leaf(set.lookup(Some("b.test"))), leaf(Some(&wild)));
        assert_eq!(leaf(set.lookup(Some("b.c.test"))), leaf(Some(&default)));
        assert_eq!(leaf(set.lookup(None)), leaf(Some(&default)));
    }

    #[test]
    fn a_set_without_identities_or_with_a_bad_name_is_refused() {
        let err = CertificateSet::new().check().unwrap_err();
        assert!(err.is_config(), "{err}");
        let err = CertificateSet::new()
            .with_name("not a name", identity("a.test"))
            .check()
            .unwrap_err();
        assert!(
            err.is_config() && err.to_string().contains("not a name"),
            "{err}"
        );
    }

    #[test]
    fn pem_without_a_certificate_or_with_the_wrong_key_is_refused() {
        let err = Identity::from_pem(b"", b"").unwrap_err();
        assert!(
            err.is_config() && err.to_string().contains("certificate chain"),
            "{err}"
        );
        let other_key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["a.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let err = Identity::from_pem(cert.pem(), other_key).unwrap_err();
        assert!(
            err.is_config() && err.to_string().contains("does not fit"),
            "{err}"
        );
        let err = RootCerts::from_pem(
            b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap_err();
        assert!(err.is_config(), "{err}");
        let err =
            Identity::from_pem_files("/nonexistent/chain.pem", "/nonexistent/key.pem").unwrap_err();
        assert!(
            err.is_config() && err.to_string().contains("/nonexistent/chain.pem"),
            "{err}"
        );
    }

    #[test]
    fn der_identities_parse_and_bad_der_keys_are_refused() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["a.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let id = Identity::from_der(vec![cert.der().to_vec()], key.serialize_der()).unwrap();
        assert_eq!(id.chain_der().collect::<Vec<_>>(), [cert.der().as_ref()]);
        let err = Identity::from_der(vec![cert.der().to_vec()], vec![1, 2, 3]).unwrap_err();
        assert!(
            err.is_config() && err.to_string().contains("private key"),
            "{err}"
        );
        let err = Identity::from_der(Vec::new(), key.serialize_der()).unwrap_err();
        assert!(
            err.is_config() && err.to_string().contains("no certificate"),
            "{err}"
        );
    }

    #[test]
    fn identity_debug_never_shows_the_key() {
        let shown = format!("{:?}", identity("a.test"));
        assert!(
            shown.contains("chain_len: 1") && !shown.contains("PRIVATE"),
            "{shown}"
        );
    }
}
