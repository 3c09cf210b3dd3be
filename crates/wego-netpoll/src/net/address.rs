//! Addresses of TCP and Unix domain sockets.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::Error;

/// Where a socket lives: an IP address and port, or a Unix socket path.
///
/// Parsed from `"127.0.0.1:8080"`, `"[::1]:8080"`, `"unix:/run/app.sock"` or
/// the URL form `"unix:///run/app.sock"`; displayed as `unix:<path>`, or in the
/// URL form when the path itself starts with `//`, so that display and parse
/// round-trip. (An unnamed Unix peer displays as `unix:`, which does not parse.)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix domain socket path.
    Unix(PathBuf),
}

impl Address {
    /// Returns the TCP address, if this is one.
    pub fn as_tcp(&self) -> Option<SocketAddr> {
        match self {
            Address::Tcp(addr) => Some(*addr),
            Address::Unix(_) => None,
        }
    }

    /// Returns the Unix socket path, if this is one.
    pub fn as_unix(&self) -> Option<&Path> {
        match self {
            Address::Unix(path) => Some(path),
            Address::Tcp(_) => None,
        }
    }

    /// An address on 127.0.0.1 with an OS-chosen port, for tests and examples.
    pub fn loopback() -> Self {
        Address::Tcp(SocketAddr::from(([127, 0, 0, 1], 0)))
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        Address::Tcp(addr)
    }
}

impl From<PathBuf> for Address {
    fn from(path: PathBuf) -> Self {
        Address::Unix(path)
    }
}

impl FromStr for Address {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix:") {
            // URL form `unix:///abs/path`: an empty authority before the path.
            let path = match path.strip_prefix("//") {
                Some(rest) if rest.starts_with('/') => rest,
                _ => path,
            };
            if path.is_empty() {
                return Err(Error::address(format!("empty unix socket path in {s:?}")));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        s.parse::<SocketAddr>()
            .map(Address::Tcp)
            .map_err(|e| Error::address(format!("invalid address {s:?}: {e}")))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(addr) => write!(f, "{addr}"),
            Address::Unix(path) if path.as_os_str().as_encoded_bytes().starts_with(b"//") => {
                write!(f, "unix://{}", path.display())
            }
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_and_unix_forms() {
        assert_eq!(
            "127.0.0.1:80".parse::<Address>().unwrap(),
            Address::Tcp(SocketAddr::from(([127, 0, 0, 1], 80)))
        );
        assert!(matches!("[::1]:8080".parse::<Address>().unwrap(), Address::Tcp(a) if a.is_ipv6()));
        assert_eq!(
            "unix:/tmp/x.sock".parse::<Address>().unwrap(),
            Address::Unix("/tmp/x.sock".into())
        );
        assert_eq!(
            "unix:///tmp/x.sock".parse::<Address>().unwrap(),
            Address::Unix("/tmp/x.sock".into())
        );
    }

    #[test]
    fn rejects_malformed_addresses_with_a_clear_error() {
        for bad in ["", "localhost", "1.2.3.4", "1.2.3.4:99999", "unix:"] {
            let err = bad.parse::<Address>().unwrap_err();
            assert!(err.is_address(), "{bad}: {err}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "127.0.0.1:80",
            "[::1]:8080",
            "unix:/tmp/x.sock",
            "unix:rel.sock",
        ] {
            assert_eq!(s.parse::<Address>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn unix_paths_starting_with_two_slashes_round_trip() {
        // Found by wego-governance's fuzzer: `//x` used to display as
        // `unix://x`, which parsed back as `x`.
        for path in ["//x", "///x", "//", "/a//b"] {
            let addr = Address::Unix(PathBuf::from(path));
            assert_eq!(addr.to_string().parse::<Address>().unwrap(), addr, "{path}");
        }
        assert_eq!(
            "unix://x".parse::<Address>().unwrap(),
            Address::Unix("//x".into())
        );
    }

    proptest::proptest! {
        #[test]
        fn any_named_unix_path_round_trips(path in "[a-z/._-]{1,40}") {
            let addr = Address::Unix(PathBuf::from(&path));
            proptest::prop_assert_eq!(addr.to_string().parse::<Address>().unwrap(), addr);
        }

        #[test]
        fn any_socket_address_round_trips(ip in proptest::arbitrary::any::<std::net::IpAddr>(), port: u16) {
            let addr = Address::Tcp(SocketAddr::new(ip, port));
            proptest::prop_assert_eq!(addr.to_string().parse::<Address>().unwrap(), addr);
        }
    }
}
