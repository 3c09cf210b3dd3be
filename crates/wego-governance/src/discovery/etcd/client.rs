//! A small etcd v3 client: the calls discovery and registry make.
//!
//! The gRPC stubs are generated at build time from `proto/etcd.proto` (see
//! `build.rs`) and run on tonic's HTTP/2 channel, which needs tokio's
//! runtime: the etcd backend does not run on the `polling` network backend.

use std::time::Duration;

use futures_util::Stream;
use tokio::sync::mpsc;
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
    /// No endpoint could be reached (the last endpoint's error).
    #[error("cannot connect to any etcd endpoint")]
    Connect(#[source] tonic::transport::Error),
    /// An endpoint is not a valid URL.
    #[error("invalid etcd endpoint {0:?}")]
    Endpoint(String, #[source] tonic::transport::Error),
    /// No endpoint was configured.
    #[error("no etcd endpoint configured")]
    NoEndpoint,
    /// etcd answered the call with an error status.
    #[error("etcd call failed")]
    Status(#[from] tonic::Status),
}

/// A connection to one etcd member, with the KV, Lease and Watch stubs.
#[derive(Debug, Clone)]
pub(super) struct Client {
    kv: KvClient<Channel>,
    lease: LeaseClient<Channel>,
    watch: WatchClient<Channel>,
}

impl Client {
    /// Connects to the first of `endpoints` that answers within `timeout`;
    /// each call then times out after `timeout` too (streams: until their
    /// response headers arrive).
    ///
    /// While a stream is open, the connection sends an HTTP/2 PING after
    /// `keep_alive` without a frame from etcd, and closes if no answer
    /// comes within `timeout`: a silent member (partitioned, powered off,
    /// an idle flow dropped by a firewall) then fails the stream instead
    /// of leaving it waiting for ever. No PING is sent without an open
    /// stream, which etcd (gRPC's `PermitWithoutStream = false`) would
    /// count against the client.
    pub(super) async fn connect(
        endpoints: &[String],
        timeout: Duration,
        keep_alive: Duration,
    ) -> Result<Client, EtcdError> {
        // hyper adds the keep-alive interval and timeout to an `Instant`
        // unchecked: longer ones than a "never" deadline are clamped to it.
        let timeout = timeout.min(rt::FAR_FUTURE);
        let keep_alive = keep_alive.min(rt::FAR_FUTURE);
        let mut last = EtcdError::NoEndpoint;
        for url in endpoints {
            let endpoint = Endpoint::from_shared(url.clone())
                .map_err(|e| EtcdError::Endpoint(url.clone(), e))?
                .connect_timeout(timeout)
                .timeout(timeout)
                .http2_keep_alive_interval(keep_alive)
                .keep_alive_timeout(timeout)
                .tcp_nodelay(true);
            match endpoint.connect().await {
                Ok(channel) => {
                    return Ok(Client {
                        kv: KvClient::new(channel.clone()),
                        lease: LeaseClient::new(channel.clone()),
                        watch: WatchClient::new(channel),
                    });
                }
                Err(e) => last = EtcdError::Connect(e),
            }
        }
        Err(last)
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
    use super::prefix_end;

    #[test]
    fn prefix_end_increments_the_last_byte_below_ff() {
        assert_eq!(prefix_end(b"/wego/s/"), b"/wego/s0".to_vec());
        assert_eq!(prefix_end(b"a\xff\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
    }
}
