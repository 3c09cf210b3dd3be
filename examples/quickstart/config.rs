//! The quick start's configuration: an embedded default (`config.toml`),
//! optionally replaced by `--config FILE`, then overridden by flags.

use std::time::Duration;

use serde::Deserialize;
use wego_netpoll::Address;

/// The default configuration, compiled into the binary.
pub const DEFAULT_CONFIG: &str = include_str!("config.toml");

/// Where services register and are discovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryKind {
    /// An in-process registry: nothing outside the binary is needed.
    Static,
    /// etcd v3 at these endpoints (`http://host:port`).
    Etcd(Vec<String>),
}

impl RegistryKind {
    /// Parses `static` or `etcd://host:port[,host:port...]`.
    ///
    /// # Errors
    ///
    /// Names the value when it is neither form.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        if s == "static" {
            return Ok(RegistryKind::Static);
        }
        let Some(hosts) = s.strip_prefix("etcd://") else {
            return Err(ConfigError(format!(
                "registry must be `static` or `etcd://HOST:PORT`, got {s:?}"
            )));
        };
        let endpoints: Vec<String> = hosts
            .split(',')
            .filter(|h| !h.is_empty())
            .map(|h| format!("http://{h}"))
            .collect();
        if endpoints.is_empty() {
            return Err(ConfigError(format!("no etcd endpoint in {s:?}")));
        }
        Ok(RegistryKind::Etcd(endpoints))
    }
}

/// The whole configuration, typed.
#[derive(Debug, Clone)]
pub struct Config {
    /// The RPC service's name in the registry.
    pub service: String,
    /// The HTTP API's listen address.
    pub http_addr: Address,
    /// The RPC server's listen address.
    pub rpc_addr: Address,
    /// The second HTTP service's name in the registry (the host the API
    /// calls it by).
    pub upstream_service: String,
    /// The second HTTP service's listen address.
    pub upstream_addr: Address,
    /// The registry backend.
    pub registry: RegistryKind,
    /// How long graceful shutdown waits.
    pub shutdown_grace: Duration,
    /// Attempts per RPC call (1 = no retry).
    pub rpc_attempts: u32,
    /// Timeout of one RPC attempt (a call may take one per attempt).
    pub rpc_timeout: Duration,
    /// HTTP requests per second (`None` = unlimited).
    pub http_rate_limit: Option<u32>,
}

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    service: String,
    http_addr: String,
    rpc_addr: String,
    upstream_service: String,
    upstream_addr: String,
    registry: String,
    shutdown_grace_ms: u64,
    rpc_attempts: u32,
    rpc_timeout_ms: u64,
    http_rate_limit: u32,
}

impl Config {
    /// Parses a TOML document with every key of `config.toml`.
    ///
    /// # Errors
    ///
    /// Says which key is missing, unknown or malformed.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ConfigError(format!("config: {e}")))?;
        let addr = |key: &str, v: &str| {
            v.parse::<Address>()
                .map_err(|e| ConfigError(format!("config: {key}: {e}")))
        };
        if raw.rpc_attempts == 0 {
            return Err(ConfigError(
                "config: rpc_attempts must be at least 1".into(),
            ));
        }
        Ok(Config {
            service: raw.service,
            http_addr: addr("http_addr", &raw.http_addr)?,
            rpc_addr: addr("rpc_addr", &raw.rpc_addr)?,
            upstream_service: raw.upstream_service,
            upstream_addr: addr("upstream_addr", &raw.upstream_addr)?,
            registry: RegistryKind::parse(&raw.registry)?,
            shutdown_grace: Duration::from_millis(raw.shutdown_grace_ms),
            rpc_attempts: raw.rpc_attempts,
            rpc_timeout: Duration::from_millis(raw.rpc_timeout_ms),
            http_rate_limit: (raw.http_rate_limit > 0).then_some(raw.http_rate_limit),
        })
    }

    /// The embedded default.
    ///
    /// # Panics
    ///
    /// Never in a released binary: a unit test parses `config.toml`.
    pub fn embedded() -> Self {
        Self::from_toml(DEFAULT_CONFIG).expect("invariant: the embedded config.toml parses")
    }

    /// Applies command-line flags over the embedded default (or `--config`).
    ///
    /// # Errors
    ///
    /// An unknown flag, a flag without a value, or a bad value.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, ConfigError> {
        let args: Vec<String> = args.into_iter().collect();
        let mut cfg = match args.iter().position(|a| a == "--config") {
            Some(i) => {
                let path = args
                    .get(i + 1)
                    .ok_or_else(|| ConfigError("--config needs a file".into()))?;
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError(format!("cannot read {path}: {e}")))?;
                Self::from_toml(&text)?
            }
            None => Self::embedded(),
        };
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .ok_or_else(|| ConfigError(format!("{flag} needs a value")))
            };
            let addr = |v: String| {
                v.parse::<Address>()
                    .map_err(|e| ConfigError(format!("{flag}: {e}")))
            };
            match flag.as_str() {
                "--config" => {
                    value()?;
                }
                "--service" => cfg.service = value()?,
                "--http-addr" => cfg.http_addr = addr(value()?)?,
                "--rpc-addr" => cfg.rpc_addr = addr(value()?)?,
                "--upstream-addr" => cfg.upstream_addr = addr(value()?)?,
                "--http-port" => cfg.http_addr = addr(format!("127.0.0.1:{}", value()?))?,
                "--rpc-port" => cfg.rpc_addr = addr(format!("127.0.0.1:{}", value()?))?,
                "--upstream-port" => {
                    cfg.upstream_addr = addr(format!("127.0.0.1:{}", value()?))?;
                }
                "--registry" => cfg.registry = RegistryKind::parse(&value()?)?,
                other => {
                    return Err(ConfigError(format!(
                        "unknown flag {other}; flags: --config FILE, --service NAME, \
                         --http-addr A, --rpc-addr A, --upstream-addr A, --http-port N, \
                         --rpc-port N, --upstream-port N, \
                         --registry static|etcd://HOST:PORT"
                    )));
                }
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_config_parses() {
        let cfg = Config::embedded();
        assert_eq!(cfg.service, "echo");
        assert_eq!(cfg.registry, RegistryKind::Static);
        assert_eq!(cfg.rpc_attempts, 3);
        assert_eq!(cfg.upstream_service, "greeter");
        assert_eq!(cfg.upstream_addr.to_string(), "127.0.0.1:8081");
    }

    #[test]
    fn flags_override_the_embedded_config() {
        let cfg = Config::from_args(
            [
                "--http-port",
                "9000",
                "--upstream-port",
                "9001",
                "--registry",
                "etcd://127.0.0.1:2379,127.0.0.1:2380",
            ]
            .map(String::from),
        )
        .unwrap();
        assert_eq!(cfg.http_addr.to_string(), "127.0.0.1:9000");
        assert_eq!(cfg.upstream_addr.to_string(), "127.0.0.1:9001");
        assert_eq!(
            cfg.registry,
            RegistryKind::Etcd(vec![
                "http://127.0.0.1:2379".into(),
                "http://127.0.0.1:2380".into()
            ])
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::from_args(["--registry", "zookeeper://x"].map(String::from)).unwrap_err();
        assert!(err.0.contains("zookeeper"), "{err}");
        let err = Config::from_args(["--http-port"].map(String::from)).unwrap_err();
        assert!(err.0.contains("needs a value"), "{err}");
        let err = Config::from_toml("service = 1").unwrap_err();
        assert!(err.0.starts_with("config:"), "{err}");
        let bad = DEFAULT_CONFIG.replace("rpc_attempts = 3", "rpc_attempts = 0");
        assert!(Config::from_toml(&bad).is_err());
    }
}
