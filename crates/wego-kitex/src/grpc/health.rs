//! The standard health service, `grpc.health.v1.Health`: `Check` (unary)
//! and `Watch` (server streaming), driven by a [`HealthReporter`].
//!
//! The empty service name `""` stands for the whole server and starts as
//! `SERVING`; other services are `NOT_FOUND` for `Check` until reported.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::watch;

use super::request::{BoxStream, Request, Response};
use super::server::GrpcRouter;
use super::status::Status;

/// `grpc.health.v1.HealthCheckRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckRequest {
    /// The service name; empty for the whole server.
    #[prost(string, tag = "1")]
    pub service: String,
}

/// `grpc.health.v1.HealthCheckResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckResponse {
    /// A [`ServingStatus`] value.
    #[prost(enumeration = "ServingStatus", tag = "1")]
    pub status: i32,
}

/// `grpc.health.v1.HealthCheckResponse.ServingStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ServingStatus {
    /// Unknown.
    Unknown = 0,
    /// Serving.
    Serving = 1,
    /// Not serving.
    NotServing = 2,
    /// Only for Watch: the service is not known to the server.
    ServiceUnknown = 3,
}

/// The path prefix of the health service.
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// Sets the status each service reports. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HealthReporter {
    statuses: Arc<watch::Sender<HashMap<String, ServingStatus>>>,
}

impl Default for HealthReporter {
    fn default() -> Self {
        HealthReporter::new()
    }
}

impl HealthReporter {
    /// A reporter where the server (`""`) is `SERVING`.
    pub fn new() -> HealthReporter {
        let mut m = HashMap::new();
        m.insert(String::new(), ServingStatus::Serving);
        HealthReporter {
            statuses: Arc::new(watch::Sender::new(m)),
        }
    }

    /// Sets the status of `service` (`""` for the whole server); watchers
    /// see the change.
    pub fn set_status(&self, service: &str, status: ServingStatus) {
        self.statuses.send_modify(|m| {
            m.insert(service.to_owned(), status);
        });
    }

    /// Forgets a service (Check answers `NOT_FOUND` again).
    pub fn clear_status(&self, service: &str) {
        self.statuses.send_modify(|m| {
            m.remove(service);
        });
    }

    /// The current status of `service`, if known.
    pub fn status(&self, service: &str) -> Option<ServingStatus> {
        self.statuses.borrow().get(service).copied()
    }

    /// A router serving `grpc.health.v1.Health` from this reporter; merge it
    /// into the application's router.
    pub fn router(&self) -> GrpcRouter {
        let check = self.clone();
        let watch_from = self.clone();
        GrpcRouter::new()
            .unary(
                "/grpc.health.v1.Health/Check",
                move |req: Request<HealthCheckRequest>| {
                    let status = check.status(&req.get_ref().service);
                    async move {
                        match status {
                            Some(s) => Ok(Response::new(HealthCheckResponse { status: s as i32 })),
                            None => Err(Status::not_found("unknown service")),
                        }
                    }
                },
            )
            .server_streaming(
                "/grpc.health.v1.Health/Watch",
                move |req: Request<HealthCheckRequest>| {
                    let rx = watch_from.statuses.subscribe();
                    let service = req.into_inner().service;
                    async move {
                        let stream = futures_util::stream::unfold(
                            (rx, service, None::<ServingStatus>, true),
                            |(mut rx, service, last, first)| async move {
                                loop {
                                    if !first || last.is_some() {
                                        rx.changed().await.ok()?;
                                    }
                                    let now = rx
                                        .borrow_and_update()
                                        .get(&service)
                                        .copied()
                                        .unwrap_or(ServingStatus::ServiceUnknown);
                                    if last != Some(now) {
                                        let msg = HealthCheckResponse { status: now as i32 };
                                        return Some((Ok(msg), (rx, service, Some(now), false)));
                                    }
                                }
                            },
                        );
                        Ok(Response::new(
                            Box::pin(stream) as BoxStream<HealthCheckResponse>
                        ))
                    }
                },
            )
    }
}
