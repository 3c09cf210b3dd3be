//! [`GovernedClientBuilder`]: a [`GovernedClient`]'s settings, checked
//! when it is built.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::uri::Authority;
use tokio::sync::OnceCell;
use wego_governance::Discover;
use wego_governance::breaker::Breakers;
use wego_governance::hedge::HedgeLayer;
use wego_governance::lb::{Balancer, RoundRobin};
use wego_governance::metrics::Metrics;
use wego_governance::retry::RetryLayer;

use super::{GovernedClient, Layers, ServerErrors, Shared};
use crate::client::Client;
use crate::{Error, Result};

/// Builds a [`GovernedClient`]; start from [`GovernedClient::builder`].
///
/// Defaults: round robin, no breakers, no retries, no backup requests, no
/// timeout but the request's own
/// ([`CallOptions::with_timeout`](super::CallOptions::with_timeout)), no
/// metrics, tracing on, [`ServerErrors::Unavailable`].
pub struct GovernedClientBuilder {
    client: Client,
    discover: Option<Arc<dyn Discover>>,
    services: Vec<String>,
    layers: Layers,
}

impl fmt::Debug for GovernedClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GovernedClientBuilder")
            .field("services", &self.services)
            .field("timeout", &self.layers.timeout)
            .field("trace", &self.layers.trace)
            .field("server_errors", &self.layers.server_errors)
            .finish_non_exhaustive()
    }
}

impl GovernedClientBuilder {
    /// The defaults, around `client`.
    pub(super) fn new(client: Client) -> Self {
        Self {
            client,
            discover: None,
            services: Vec::new(),
            layers: Layers {
                balancer: Arc::new(|| Box::new(RoundRobin::new())),
                breakers: None,
                retry: None,
                hedge: None,
                timeout: None,
                metrics: None,
                trace: true,
                server_errors: ServerErrors::default(),
            },
        }
    }

    /// Resolves service names with `discover` (static, DNS, etcd, or your
    /// own). Required.
    pub fn with_discover(mut self, discover: Arc<dyn Discover>) -> Self {
        self.discover = Some(discover);
        self
    }

    /// Adds a service name: requests whose host is `name` (any port, any
    /// case) are resolved and balanced. At least one is required.
    pub fn add_service(mut self, name: &str) -> Self {
        self.services.push(name.to_ascii_lowercase());
        self
    }

    /// Picks instances with the balancer `make` builds (one per service);
    /// round robin by default.
    pub fn with_balancer<B: Balancer>(
        mut self,
        make: impl Fn() -> B + Send + Sync + 'static,
    ) -> Self {
        self.layers.balancer = Arc::new(move || Box::new(make()));
        self
    }

    /// A circuit breaker per instance (scope `service/address`): open
    /// instances are skipped. Give the breakers
    /// `with_observer(metrics.breaker_observer())` to see them in metrics.
    pub fn with_breakers(mut self, breakers: Breakers) -> Self {
        self.layers.breakers = Some(breakers);
        self
    }

    /// Retries retryable failures of idempotent requests on another
    /// instance ([`RetryLayer`]: attempts, backoff, budget). With
    /// [`with_metrics`](Self::with_metrics), retries are counted there.
    pub fn with_retry(mut self, retry: RetryLayer) -> Self {
        self.layers.retry = Some(retry);
        self
    }

    /// Sends backup requests for slow idempotent requests to other
    /// instances ([`HedgeLayer`]); the first answer wins.
    pub fn with_hedge(mut self, hedge: HedgeLayer) -> Self {
        self.layers.hedge = Some(hedge);
        self
    }

    /// Bounds every governed request, retries and backups included, until
    /// its response head arrives. The [`Client`]'s own timeout bounds each
    /// attempt.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.layers.timeout = Some(timeout);
        self
    }

    /// Records governed requests (and retries, backups) in `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.layers.metrics = Some(metrics);
        self
    }

    /// Turns the `wego.call` span and `traceparent` injection on or off.
    pub fn with_trace(mut self, on: bool) -> Self {
        self.layers.trace = on;
        self
    }

    /// Which `5xx` responses count as an instance's failures.
    pub fn with_server_errors(mut self, policy: ServerErrors) -> Self {
        self.layers.server_errors = policy;
        self
    }

    /// Checks the settings and builds the client. Discovery starts on a
    /// service's first request.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] without a discover or a service, for a service
    /// name that is not a host name (or has a port), or for a zero timeout.
    pub fn build(self) -> Result<GovernedClient> {
        let Some(discover) = self.discover else {
            return Err(Error::client_config("discover must be set"));
        };
        if self.services.is_empty() {
            return Err(Error::client_config("at least one service must be added"));
        }
        if self.layers.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::client_config("timeout must be above zero"));
        }
        let mut services = HashMap::new();
        for name in &self.services {
            let valid = name
                .parse::<Authority>()
                .is_ok_and(|a| a.port().is_none() && a.host() == name && !name.is_empty());
            if !valid {
                return Err(Error::client_config(
                    "service names must be host names without a port",
                ));
            }
            services.insert(name.clone(), OnceCell::new());
        }
        let mut layers = self.layers;
        if let Some(m) = &layers.metrics {
            layers.retry = layers.retry.map(|r| r.with_metrics(m.clone()));
            layers.hedge = layers.hedge.map(|h| h.with_metrics(m.clone()));
        }
        Ok(GovernedClient {
            shared: Arc::new(Shared {
                client: self.client,
                discover,
                services,
                layers,
            }),
        })
    }
}
