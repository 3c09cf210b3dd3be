//! The governed HTTP client: a service name resolved through discovery,
//! load balanced over wego upstreams, with breakers, retries, backup
//! requests, metrics and `traceparent`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use tokio::sync::{mpsc, watch};
use wego_governance::breaker::{BreakerConfig, BreakerState, Breakers};
use wego_governance::hedge::HedgeLayer;
use wego_governance::lb::ConsistentHash;
use wego_governance::metrics::Metrics;
use wego_governance::retry::{Backoff, RetryLayer};
use wego_governance::trace::TraceContext;
use wego_governance::{Discover, Instance, StaticDiscover};
use wego_hertz::client::{
    CallOptions, Client, GovernedClient, GovernedClientBuilder, ServerErrors,
};
use wego_hertz::{Body, Server};
use wego_netpoll::{Address, rt};

use super::support::start;

const SERVICE: &str = "echo-svc";

/// What an upstream saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    instance: &'static str,
    method: Method,
    host: String,
    traceparent: Option<String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// How an upstream answers.
#[derive(Clone)]
enum Behaviour {
    /// `200` with the instance's name as the body.
    Answer,
    /// This status, always.
    Status(StatusCode),
    /// Says it started (on the channel), then answers once the gate is
    /// open.
    Gated {
        started: mpsc::UnboundedSender<()>,
        gate: watch::Receiver<bool>,
    },
}

struct Upstream {
    server: Server,
    addr: Address,
    task: rt::JoinHandle<()>,
}

impl Upstream {
    async fn start(instance: &'static str, log: Log, behaviour: Behaviour) -> Upstream {
        let svc = tower::service_fn(move |req: Request<Body>| {
            let log = log.clone();
            let behaviour = behaviour.clone();
            async move {
                let seen = {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    Seen {
                        instance,
                        method: req.method().clone(),
                        host: header("host").unwrap_or_default(),
                        traceparent: header("traceparent"),
                    }
                };
                drop(req);
                log.lock().unwrap().push(seen);
                let status = match behaviour {
                    Behaviour::Answer => StatusCode::OK,
                    Behaviour::Status(s) => s,
                    Behaviour::Gated { started, mut gate } => {
                        let _ = started.send(());
                        let _ = gate.wait_for(|open| *open).await;
                        StatusCode::OK
                    }
                };
                let mut resp = Response::new(Body::from(instance));
                *resp.status_mut() = status;
                Ok::<_, Infallible>(resp)
            }
        });
        let (server, addr, task) = start(Server::builder(), svc).await;
        Upstream { server, addr, task }
    }

    fn instance(&self) -> Instance {
        Instance::new(self.addr.clone())
    }

    /// Closes the listener and every connection, and waits until the
    /// server has stopped.
    async fn kill(self) {
        self.server.shutdown(Duration::ZERO).await;
        self.task.await.unwrap();
    }
}

fn served_by(log: &Log, instance: &str) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|s| s.instance == instance)
        .count()
}

fn governed(instances: Vec<Instance>) -> GovernedClientBuilder {
    let discover: Arc<dyn Discover> = Arc::new(StaticDiscover::with_service(SERVICE, instances));
    GovernedClient::builder(Client::builder().build().unwrap())
        .with_discover(discover)
        .add_service(SERVICE)
}

async fn body_of(resp: Response<Body>) -> String {
    let data = resp.into_body().collect_limited(1 << 16).await.unwrap();
    String::from_utf8(data.to_vec()).unwrap()
}

wego_test_support::each_backend!(
    load_spreads_and_a_killed_instance_is_routed_around,
    |_backend| async move {
        let log = Log::default();
        let a = Upstream::start("a", log.clone(), Behaviour::Answer).await;
        let b = Upstream::start("b", log.clone(), Behaviour::Answer).await;
        let a_scope = format!("{SERVICE}/{}", a.addr);
        let metrics = Metrics::new();
        let breakers = Breakers::new(
            BreakerConfig::default()
                .with_consecutive_failures(2)
                .with_cool_down(Duration::from_secs(600)),
        )
        .with_observer(metrics.breaker_observer());
        let client = governed(vec![a.instance(), b.instance()])
            .with_breakers(breakers.clone())
            .with_retry(RetryLayer::new(3).with_backoff(Backoff::none()))
            .with_metrics(metrics.clone())
            .build()
            .unwrap();

        for _ in 0..10 {
            let resp = client.get("http://echo-svc/hello").await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
        }
        assert_eq!((served_by(&log, "a"), served_by(&log, "b")), (5, 5));
        // The upstream sees the service name as the host, like behind a
        // gateway.
        assert!(log.lock().unwrap().iter().all(|s| s.host == SERVICE));

        a.kill().await;
        for _ in 0..10 {
            let resp = client.get("http://echo-svc/hello").await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(body_of(resp).await, "b");
        }
        assert_eq!((served_by(&log, "a"), served_by(&log, "b")), (5, 15));
        let retries = metrics.retries(SERVICE);
        assert!((1..=2).contains(&retries), "{retries} retries");
        assert!(
            breakers
                .states()
                .contains(&(a_scope.clone(), BreakerState::Open)),
            "{:?}",
            breakers.states()
        );
        assert_eq!(metrics.breaker_state(&a_scope), Some(BreakerState::Open));
        let text = metrics.render();
        assert!(
            text.contains(
                "wego_requests_total{service=\"echo-svc\",method=\"GET\",status=\"ok\"} 20"
            ),
            "{text}"
        );
        b.kill().await;
    }
);

wego_test_support::each_backend!(
    counted_5xx_are_retried_for_get_and_not_for_post,
    |_backend| async move {
        let log = Log::default();
        let down = Upstream::start(
            "down",
            log.clone(),
            Behaviour::Status(StatusCode::SERVICE_UNAVAILABLE),
        )
        .await;
        let metrics = Metrics::new();
        let client = governed(vec![down.instance()])
            .with_retry(RetryLayer::new(3).with_backoff(Backoff::none()))
            .with_metrics(metrics.clone())
            .build()
            .unwrap();

        // GET: three attempts, and the last 503 is the answer.
        let resp = client.get("http://echo-svc/x").await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(served_by(&log, "down"), 3);
        assert_eq!(metrics.retries(SERVICE), 2);

        // POST: not idempotent, sent once.
        let post = Request::post("http://echo-svc/x")
            .body(Body::from("order"))
            .unwrap();
        let resp = client.request(post).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(served_by(&log, "down"), 4);
        assert_eq!(metrics.retries(SERVICE), 2);
        let posts = log
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.method == Method::POST)
            .count();
        assert_eq!(posts, 1);

        let text = metrics.render();
        assert!(
            text.contains(
                "wego_errors_total{service=\"echo-svc\",method=\"POST\",kind=\"service_unavailable\"} 1"
            ),
            "{text}"
        );

        // With 5xx ignored, a 503 is an answer like any other.
        let plain = governed(vec![down.instance()])
            .with_retry(RetryLayer::new(3).with_backoff(Backoff::none()))
            .with_server_errors(ServerErrors::Ignore)
            .build()
            .unwrap();
        let resp = plain.get("http://echo-svc/x").await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(served_by(&log, "down"), 5);
        down.kill().await;
    }
);

wego_test_support::each_backend!(
    a_post_to_a_dead_instance_fails_without_a_retry,
    |_backend| async move {
        // A port nothing listens on any more.
        let dead = wego_test_support::loopback().await.local_addr().clone();
        let metrics = Metrics::new();
        let client = governed(vec![Instance::new(dead)])
            .with_retry(RetryLayer::new(3).with_backoff(Backoff::none()))
            .with_metrics(metrics.clone())
            .build()
            .unwrap();
        let post = Request::post("http://echo-svc/x")
            .body(Body::from("order"))
            .unwrap();
        let err = client.request(post).await.unwrap_err();
        assert!(err.is_connect(), "{err:?}");
        assert_eq!(metrics.retries(SERVICE), 0);
        // The same as a GET is retried (and fails again: one instance).
        let err = client.get("http://echo-svc/x").await.unwrap_err();
        assert!(err.is_connect(), "{err:?}");
        assert_eq!(metrics.retries(SERVICE), 2);
    }
);

wego_test_support::each_backend!(
    a_slow_instance_is_hedged_to_the_other,
    |_backend| async move {
        let log = Log::default();
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let (gate, gate_rx) = watch::channel(false);
        let slow = Upstream::start(
            "slow",
            log.clone(),
            Behaviour::Gated {
                started: started_tx,
                gate: gate_rx,
            },
        )
        .await;
        let fast = Upstream::start("fast", log.clone(), Behaviour::Answer).await;
        let metrics = Metrics::new();
        // The slow instance answers only when the gate opens (at the end),
        // so every request's answer comes from the fast one whichever
        // instance it tried first.
        let client = governed(vec![slow.instance(), fast.instance()])
            .with_hedge(HedgeLayer::new(Duration::from_millis(5), 1))
            .with_metrics(metrics.clone())
            .build()
            .unwrap();
        for _ in 0..4 {
            let resp = client.get("http://echo-svc/x").await.unwrap();
            assert_eq!(body_of(resp).await, "fast");
        }
        // Round robin sent some first attempts to the slow instance.
        started.recv().await.unwrap();
        assert!(served_by(&log, "slow") >= 1);
        assert_eq!(served_by(&log, "fast"), 4);
        assert!(metrics.retries(SERVICE) >= 1);
        gate.send(true).unwrap();
        slow.kill().await;
        fast.kill().await;
    }
);

wego_test_support::each_backend!(traceparent_arrives_at_the_upstream, |_backend| async move {
    let log = Log::default();
    let up = Upstream::start("a", log.clone(), Behaviour::Answer).await;
    let client = governed(vec![up.instance()]).build().unwrap();
    let trace_of = |i: usize| {
        let seen = log.lock().unwrap()[i].traceparent.clone().unwrap();
        TraceContext::parse(&seen).unwrap()
    };

    // A parent in the extensions: the upstream gets a child of it.
    let parent = TraceContext::new_root();
    let mut req = Request::get("http://echo-svc/t")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(parent);
    client.request(req).await.unwrap();
    let sent = trace_of(0);
    assert_eq!(sent.trace_id, parent.trace_id);
    assert_ne!(sent.span_id, parent.span_id);

    // The caller's own header goes as it is.
    let own = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let req = Request::get("http://echo-svc/t")
        .header("traceparent", own)
        .body(Body::empty())
        .unwrap();
    client.request(req).await.unwrap();
    assert_eq!(log.lock().unwrap()[1].traceparent.as_deref(), Some(own));

    // None: a new trace starts here.
    client.get("http://echo-svc/t").await.unwrap();
    assert_ne!(trace_of(2).trace_id, parent.trace_id);

    // Tracing off: nothing is injected.
    let quiet = governed(vec![up.instance()])
        .with_trace(false)
        .build()
        .unwrap();
    quiet.get("http://echo-svc/t").await.unwrap();
    assert_eq!(log.lock().unwrap()[3].traceparent, None);
    up.kill().await;
});

wego_test_support::each_backend!(
    no_instance_is_a_refusal_and_other_hosts_pass_through,
    |_backend| async move {
        let client = governed(Vec::new()).build().unwrap();
        let err = client.get("http://echo-svc/x").await.unwrap_err();
        assert!(err.is_refused(), "{err:?}");
        assert!(err.governance().unwrap().is_no_instance());
        assert_eq!(err.to_string(), "refused by service governance");

        // A host that is not a service name goes straight to the client.
        let log = Log::default();
        let up = Upstream::start("direct", log.clone(), Behaviour::Answer).await;
        let resp = client.get(format!("http://{}/d", up.addr)).await.unwrap();
        assert_eq!(body_of(resp).await, "direct");
        assert_eq!(log.lock().unwrap()[0].host, up.addr.to_string());
        assert_eq!(log.lock().unwrap()[0].traceparent, None);
        up.kill().await;
    }
);

wego_test_support::each_backend!(
    call_options_set_the_hash_key_and_idempotency,
    |_backend| async move {
        // (The deadline: `timeouts`, on the paused clock.)
        let log = Log::default();

        // A hash key picks the same instance every time.
        let a = Upstream::start("a", log.clone(), Behaviour::Answer).await;
        let b = Upstream::start("b", log.clone(), Behaviour::Answer).await;
        let hashed = governed(vec![a.instance(), b.instance()])
            .with_balancer(|| ConsistentHash::new(160))
            .build()
            .unwrap();
        let mut by_key = std::collections::BTreeMap::new();
        for key in 0..20u64 {
            for _ in 0..3 {
                let mut req = Request::get("http://echo-svc/h")
                    .body(Body::empty())
                    .unwrap();
                req.extensions_mut()
                    .insert(CallOptions::new().with_hash_key(key));
                let body = body_of(hashed.request(req).await.unwrap()).await;
                by_key
                    .entry(key)
                    .or_insert_with(std::collections::BTreeSet::new)
                    .insert(body);
            }
        }
        assert!(
            by_key.values().all(|served| served.len() == 1),
            "{by_key:?}"
        );
        let used: std::collections::BTreeSet<_> = by_key.values().flatten().collect();
        assert_eq!(used.len(), 2, "{by_key:?}");
        a.kill().await;
        b.kill().await;

        // A POST said to be idempotent is retried.
        let down = Upstream::start(
            "down",
            log.clone(),
            Behaviour::Status(StatusCode::SERVICE_UNAVAILABLE),
        )
        .await;
        let retrying = governed(vec![down.instance()])
            .with_retry(RetryLayer::new(3).with_backoff(Backoff::none()))
            .build()
            .unwrap();
        let mut post = Request::post("http://echo-svc/x")
            .body(Body::from("keyed order"))
            .unwrap();
        post.extensions_mut()
            .insert(CallOptions::new().with_idempotent(true));
        let resp = retrying.request(post).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(served_by(&log, "down"), 3);
        down.kill().await;
    }
);

/// A discovery backend that never answers.
struct Silent;

impl Discover for Silent {
    fn discover(
        &self,
        _service: &str,
    ) -> wego_governance::discovery::BoxFuture<
        '_,
        wego_governance::Result<wego_governance::InstanceWatch>,
    > {
        Box::pin(std::future::pending())
    }
}

wego_test_support::each_backend!(
    a_discovery_that_never_answers_times_out,
    |_backend| async move {
        let client = GovernedClient::builder(Client::builder().build().unwrap())
            .with_discover(Arc::new(Silent))
            .add_service(SERVICE)
            .with_timeout(Duration::from_millis(50))
            .build()
            .unwrap();
        let err = client.get("http://echo-svc/x").await.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
    }
);
