//! Addresses of TCP and Unix domain sockets.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::Error;

/// Where a socket lives: an IP address and port, or a Unix socket path.
///
/// Parsed from `"127.0.0.1:8080"`, `"[::1]:8080"` or `"unix:/run/app.sock"`;
/// displayed in the same forms.
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
            let path = path.strip_prefix("//").unwrap_or(path);
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
        for s in ["127.0.0.1:80", "[::1]:8080", "unix:/tmp/x.sock"] {
            assert_eq!(s.parse::<Address>().unwrap().to_string(), s);
        }
    }
}
