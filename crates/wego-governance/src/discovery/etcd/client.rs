//! A small etcd v3 client: the calls discovery and registry make.
//!
//! The gRPC stubs are generated at build time from `proto/etcd.proto` (see
//! `build.rs`) and run on tonic's HTTP/2 channel, which needs tokio's
//! runtime: the etcd backend does not run on the `polling` network backend.
//!
//! [`Members`] picks the member a call goes to: the last one that served,
//! moving on round the configured endpoints when one cannot serve.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::mpsc;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use wego_netpoll::rt;

#[allow(
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    clippy::all,
    clippy::pedantic
)]
mod pb {
    tonic::include_proto!("etcdserverpb");
}

use pb::kv_client::KvClient;
use pb::lease_client::LeaseClient;
use pb::watch_client::WatchClient;
use pb::watch_request::RequestUnion;
pub(super) use pb::{KeyValue, WatchResponse};

/// Why an etcd call failed: the connection or the call itself.
#[derive(Debug, thiserror::Error)]
pub(super) enum EtcdError {
    /// The endpoint could not be reached.
    #[error("cannot connect to etcd endpoint {0:?}")]
    Connect(String, #[source] tonic::transport::Error),
    /// An endpoint is not a valid URL.
    #[error("invalid etcd endpoint {0:?}")]
    Endpoint(String, #[source] tonic::transport::Error),
    /// No endpoint was configured.
    #[error("no etcd endpoint configured")]
    NoEndpoint,
    /// etcd answered the call with an error status.
    #[error("etcd call failed")]
    Status(#[from] tonic::Status),
    /// The member did not answer within the time a call has.
    #[error("etcd endpoint {0:?} did not answer in time")]
    Timeout(String),
    /// etcd closed a stream (watch, lease keep-alives).
    #[error("etcd closed the stream")]
    StreamClosed,
    /// etcd reported a registration's lease gone (expired, or lost with
    /// etcd's data).
    #[error("etcd lease expired")]
    LeaseGone,
    /// etcd cancelled a watch (a compaction, say), giving this reason.
    #[error("etcd cancelled the watch: {0}")]
    WatchCancelled(String),
}

impl EtcdError {
    /// True when the error says that this member cannot serve now, so that
    /// another member may: it cannot be reached, does not answer in time,
    /// dropped the connection or a stream, or answered UNAVAILABLE (no
    /// leader, no quorum, stopping: etcd's `ErrGRPCNoLeader` and kin),
    /// DEADLINE_EXCEEDED, or a transport or protocol failure that tonic
    /// reports as UNKNOWN, INTERNAL or CANCELLED (its own request timeout).
    /// False for answers about the request itself (a missing lease, a
    /// compacted revision, bad arguments, permissions), which any member
    /// would give.
    pub(super) fn is_member_failure(&self) -> bool {
        match self {
            EtcdError::Connect(..)
            | EtcdError::Endpoint(..)
            | EtcdError::Timeout(_)
            | EtcdError::StreamClosed => true,
            EtcdError::Status(status) => matches!(
                status.code(),
                Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::Unknown
                    | Code::Internal
                    | Code::Cancelled
            ),
            EtcdError::NoEndpoint | EtcdError::LeaseGone | EtcdError::WatchCancelled(_) => false,
        }
    }
}

/// The configured members and the one a call tries first: the last that
/// served, or the one after the last that could not.
///
/// etcd's Go client balances its calls round-robin over every endpoint and
/// retries a call that met UNAVAILABLE, so the retry goes to the next
/// member. Discovery and registry keep one connection (its watch, its
/// lease keep-alives) rather than one per member: a call stays with the
/// member that served last and moves on round the ring only when that
/// member cannot serve ([`EtcdError::is_member_failure`]).
#[derive(Debug)]
pub(super) struct Members {
    endpoints: Vec<String>,
    first: AtomicUsize,
}

impl Members {
    pub(super) fn new(endpoints: Vec<String>) -> Self {
        Members {
            endpoints,
            first: AtomicUsize::new(0),
        }
    }

    /// The member indices in the order to try them: the first, then round
    /// the ring.
    fn order(&self) -> impl Iterator<Item = usize> + use<> {
        let n = self.endpoints.len();
        let start = self.first.load(Ordering::Acquire) % n.max(1);
        (0..n).map(move |k| (start + k) % n)
    }

    /// Member `i` served: later calls start there.
    fn served(&self, i: usize) {
        self.first.store(i, Ordering::Release);
    }

    /// Member `i` could not serve: later calls start at the next one,
    /// unless another call has already moved the start elsewhere.
    pub(super) fn failed(&self, i: usize) {
        let next = (i + 1) % self.endpoints.len().max(1);
        let _ = self
            .first
            .compare_exchange(i, next, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Connects to a member and runs `op` on it, each member in turn (see
    /// [`Members::order`]) while they fail with a member failure or take
    /// longer than `limit`; returns the connection to the member that
    /// served and `op`'s output, or the last member's error. An error that
    /// any member would give ends the call at once.
    ///
    /// `op` gets its own handle on the connection; calls through either
    /// share it.
    pub(super) async fn call<T, F, Fut>(
        &self,
        timeout: Duration,
        keep_alive: Duration,
        limit: Duration,
        op: F,
    ) -> Result<(Client, T), EtcdError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, EtcdError>>,
    {
        let mut last = EtcdError::NoEndpoint;
        for i in self.order() {
            let url = &self.endpoints[i];
            let attempt = async {
                let client = Client::connect(url, i, timeout, keep_alive).await?;
                let out = op(client.clone()).await?;
                Ok::<_, EtcdError>((client, out))
            };
            let error = match rt::timeout(limit, attempt).await {
                Ok(Ok(served)) => {
                    self.served(i);
                    return Ok(served);
                }
                Ok(Err(e)) => e,
                Err(_) => EtcdError::Timeout(url.clone()),
            };
            if !error.is_member_failure() {
                return Err(error);
            }
            tracing::debug!(endpoint = %url, error = %error, "etcd member cannot serve; trying the next");
            self.failed(i);
            last = error;
        }
        Err(last)
    }
}

/// A connection to one etcd member, with the KV, Lease and Watch stubs.
#[derive(Debug, Clone)]
pub(super) struct Client {
    /// Which of the [`Members`] this connection goes to, and its URL.
    member: usize,
    url: Arc<str>,
    kv: KvClient<Channel>,
    lease: LeaseClient<Channel>,
    watch: WatchClient<Channel>,
}

impl Client {
    /// Connects to `url`, member `member` of the [`Members`], within
    /// `timeout`; each call then times out after `timeout` too (streams:
    /// until their response headers arrive).
    ///
    /// While a stream is open, the connection sends an HTTP/2 PING after
    /// `keep_alive` without a frame from etcd, and closes if no answer
    /// comes within `timeout`: a silent member (partitioned, powered off,
    /// an idle flow dropped by a firewall) then fails the stream instead
    /// of leaving it waiting for ever. No PING is sent without an open
    /// stream, which etcd (gRPC's `PermitWithoutStream = false`) would
    /// count against the client.
    async fn connect(
        url: &str,
        member: usize,
        timeout: Duration,
        keep_alive: Duration,
    ) -> Result<Client, EtcdError> {
        // hyper adds the keep-alive interval and timeout to an `Instant`
        // unchecked: longer ones than a "never" deadline are clamped to it.
        let timeout = timeout.min(rt::FAR_FUTURE);
        let keep_alive = keep_alive.min(rt::FAR_FUTURE);
        let channel = Endpoint::from_shared(url.to_owned())
            .map_err(|e| EtcdError::Endpoint(url.to_owned(), e))?
            .connect_timeout(timeout)
            .timeout(timeout)
            .http2_keep_alive_interval(keep_alive)
            .keep_alive_timeout(timeout)
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|e| EtcdError::Connect(url.to_owned(), e))?;
        Ok(Client {
            member,
            url: url.into(),
            kv: KvClient::new(channel.clone()),
            lease: LeaseClient::new(channel.clone()),
            watch: WatchClient::new(channel),
        })
    }

    /// Which of the [`Members`] this connection goes to.
    pub(super) fn member(&self) -> usize {
        self.member
    }

    /// The URL of the member this connection goes to.
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// Grants a lease of `ttl` seconds; returns its id.
    pub(super) async fn lease_grant(&mut self, ttl: i64) -> Result<i64, EtcdError> {
        let resp = self
            .lease
            .lease_grant(pb::LeaseGrantRequest { ttl, id: 0 })
            .await?
            .into_inner();
        Ok(resp.id)
    }

    /// Puts `key` = `value`, attached to `lease` (0: no lease).
    pub(super) async fn put(
        &mut self,
        key: &str,
        value: &str,
        lease: i64,
    ) -> Result<(), EtcdError> {
        self.kv
            .put(pb::PutRequest {
                key: key.as_bytes().to_vec(),
                value: value.as_bytes().to_vec(),
                lease,
            })
            .await?;
        Ok(())
    }

    /// Deletes `key`.
    pub(super) async fn delete(&mut self, key: &str) -> Result<(), EtcdError> {
        self.kv
            .delete_range(pb::DeleteRangeRequest {
                key: key.as_bytes().to_vec(),
                range_end: Vec::new(),
            })
            .await?;
        Ok(())
    }

    /// Every key under `prefix` and the store's revision at the read.
    pub(super) async fn get_prefix(
        &mut self,
        prefix: &str,
    ) -> Result<(Vec<KeyValue>, i64), EtcdError> {
        let resp = self
            .kv
            .range(pb::RangeRequest {
                key: prefix.as_bytes().to_vec(),
                range_end: prefix_end(prefix.as_bytes()),
                limit: 0,
                revision: 0,
            })
            .await?
            .into_inner();
        let revision = resp.header.map_or(0, |h| h.revision);
        Ok((resp.kvs, revision))
    }

    /// Opens a keep-alive stream for `lease` with a first keep-alive;
    /// returns the stream and that keep-alive's answer, as
    /// [`KeepAlive::keep_alive`] does.
    ///
    /// etcd sends a stream's response headers with its first message, and
    /// opening the stream waits for them (bounded by the call timeout): the
    /// first keep-alive must be in the request stream before it is opened.
    pub(super) async fn lease_keep_alive(
        &mut self,
        lease: i64,
    ) -> Result<(KeepAlive, Option<i64>), EtcdError> {
        let (tx, rx) = mpsc::channel(4);
        // The channel has room for the first keep-alive.
        let _ = tx.try_send(pb::LeaseKeepAliveRequest { id: lease });
        let mut responses = self
            .lease
            .lease_keep_alive(receiver_stream(rx))
            .await?
            .into_inner();
        let first = responses.message().await?.map(|r| r.ttl);
        let keeper = KeepAlive {
            lease,
            requests: tx,
            responses,
        };
        Ok((keeper, first))
    }

    /// Watches every key under `prefix` from `start_revision`.
    ///
    /// The watch requires a leader (`hasleader`, as etcd's Go client's
    /// `WithRequireLeader`): a member cut off from its cluster's leader
    /// cancels it, rather than keeping it open with no events to send.
    pub(super) async fn watch_prefix(
        &mut self,
        prefix: &str,
        start_revision: i64,
    ) -> Result<Watch, EtcdError> {
        let (tx, rx) = mpsc::channel(1);
        let create = pb::WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(pb::WatchCreateRequest {
                key: prefix.as_bytes().to_vec(),
                range_end: prefix_end(prefix.as_bytes()),
                start_revision,
                progress_notify: false,
            })),
        };
        // The channel has room for the creation request.
        let _ = tx.try_send(create);
        let mut request = tonic::Request::new(receiver_stream(rx));
        request.metadata_mut().insert(
            "hasleader",
            tonic::metadata::MetadataValue::from_static("true"),
        );
        let responses = self.watch.watch(request).await?.into_inner();
        Ok(Watch {
            _requests: tx,
            responses,
        })
    }
}

/// A lease keep-alive stream: send a keep-alive, read etcd's answer.
#[derive(Debug)]
pub(super) struct KeepAlive {
    lease: i64,
    requests: mpsc::Sender<pb::LeaseKeepAliveRequest>,
    responses: tonic::Streaming<pb::LeaseKeepAliveResponse>,
}

impl KeepAlive {
    /// Sends one keep-alive and returns the lease's remaining TTL in seconds
    /// (0 or less: the lease is gone), or `None` when the stream ended.
    pub(super) async fn keep_alive(&mut self) -> Result<Option<i64>, EtcdError> {
        if self
            .requests
            .send(pb::LeaseKeepAliveRequest { id: self.lease })
            .await
            .is_err()
        {
            return Ok(None);
        }
        Ok(self.responses.message().await?.map(|r| r.ttl))
    }
}

/// A watch stream. Holding it keeps the request side open, which etcd needs
/// to keep the watch.
#[derive(Debug)]
pub(super) struct Watch {
    _requests: mpsc::Sender<pb::WatchRequest>,
    responses: tonic::Streaming<WatchResponse>,
}

impl Watch {
    /// The next response, or `None` when etcd closed the stream.
    pub(super) async fn message(&mut self) -> Result<Option<WatchResponse>, EtcdError> {
        Ok(self.responses.message().await?)
    }
}

/// The end of the key range that holds every key starting with `prefix`:
/// the prefix with its last byte below 0xff incremented and what follows
/// dropped, or `\0` (the whole keyspace) when every byte is 0xff.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// A stream of what `rx` receives, ending when every sender is gone.
fn receiver_stream<T: Send + 'static>(rx: mpsc::Receiver<T>) -> impl Stream<Item = T> + Send {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}

#[cfg(test)]
mod tests {
    use super::{EtcdError, Members, prefix_end};
    use tonic::{Code, Status};

    fn members(n: usize) -> Members {
        Members::new(
            (0..n)
                .map(|i| format!("http://127.0.0.1:{}", 2379 + i))
                .collect(),
        )
    }

    fn order(m: &Members) -> Vec<usize> {
        m.order().collect()
    }

    #[test]
    fn calls_start_at_the_member_that_served_last() {
        let m = members(3);
        assert_eq!(order(&m), [0, 1, 2]);
        m.served(2);
        assert_eq!(order(&m), [2, 0, 1]);
        m.served(2);
        assert_eq!(order(&m), [2, 0, 1]);
    }

    #[test]
    fn a_failed_member_passes_the_start_to_the_next() {
        let m = members(3);
        m.failed(0);
        assert_eq!(order(&m), [1, 2, 0]);
        m.failed(2);
        assert_eq!(order(&m), [1, 2, 0], "member 2 was not the start");
        m.failed(1);
        m.failed(2);
        assert_eq!(order(&m), [0, 1, 2], "round the ring");
        assert_eq!(order(&members(0)), Vec::<usize>::new());
        members(0).failed(0);
    }

    #[test]
    fn unavailable_and_transport_failures_move_on_request_errors_do_not() {
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::Unknown,
            Code::Internal,
            Code::Cancelled,
        ] {
            let e = EtcdError::Status(Status::new(code, "etcdserver: no leader"));
            assert!(e.is_member_failure(), "{code:?}");
        }
        for code in [
            Code::NotFound,
            Code::InvalidArgument,
            Code::FailedPrecondition,
            Code::OutOfRange,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::ResourceExhausted,
        ] {
            let e = EtcdError::Status(Status::new(code, "etcdserver: requested lease not found"));
            assert!(!e.is_member_failure(), "{code:?}");
        }
        assert!(EtcdError::Timeout("x".into()).is_member_failure());
        assert!(EtcdError::StreamClosed.is_member_failure());
        assert!(!EtcdError::LeaseGone.is_member_failure());
        assert!(!EtcdError::WatchCancelled("compacted".into()).is_member_failure());
    }

    #[test]
    fn prefix_end_increments_the_last_byte_below_ff() {
        assert_eq!(prefix_end(b"/wego/s/"), b"/wego/s0".to_vec());
        assert_eq!(prefix_end(b"a\xff\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
    }
}
