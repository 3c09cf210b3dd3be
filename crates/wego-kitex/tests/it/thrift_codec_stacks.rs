//! The client's frame codec stacks against the one-port server: TTHeader
//! around Framed in every connection mode, and a stack given as a codec.

use std::time::Duration;

use wego_kitex::client::{Client, ClientRequest, Mode};
use wego_kitex::server::Server;
use wego_kitex::thrift::Protocol;
use wego_kitex::transport::{FramedCodec, Framing, Layered, TtHeaderCodec};
use wego_kitex::ttheader::HeaderFormat;

use crate::thrift_common::{echo, start, string_args};

wego_test_support::each_backend!(
    ttheader_around_framed_serves_every_mode_and_protocol,
    |_backend| async move {
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        for proto in [Protocol::Binary, Protocol::Compact] {
            for mode in [
                Mode::Short,
                Mode::Pooled {
                    max_idle: 4,
                    idle_timeout: Duration::from_secs(5),
                },
                Mode::Multiplexed,
            ] {
                let client = Client::builder(addr.clone())
                    .with_framing(Framing::TtHeaderFramed)
                    .with_protocol(proto)
                    .with_mode(mode)
                    .build()
                    .unwrap();
                for i in 0..3 {
                    let a = string_args(proto, &format!("layered {i}"));
                    let r = client
                        .call(ClientRequest::new("echo", a.clone()))
                        .await
                        .unwrap();
                    assert_eq!(r.body, a, "{proto:?} {mode:?}");
                    assert_eq!(r.protocol, proto);
                }
            }
        }
    }
);

wego_test_support::each_backend!(
    a_client_takes_a_stack_built_by_hand,
    |_backend| async move {
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        let stack = Layered::new(TtHeaderCodec::new(HeaderFormat::TtHeader), FramedCodec);
        let client = Client::builder(addr.clone())
            .with_frame_codec(stack)
            .with_mode(Mode::Multiplexed)
            .build()
            .unwrap();
        let a = string_args(Protocol::Binary, "by hand");
        let r = client
            .call(ClientRequest::new("echo", a.clone()))
            .await
            .unwrap();
        assert_eq!(r.body, a);
        // Multiplexing pairs replies by the TTHeader sequence id: a stack
        // without TTHeader is refused when the client is built.
        let e = Client::builder(addr)
            .with_frame_codec(FramedCodec)
            .with_mode(Mode::Multiplexed)
            .build()
            .unwrap_err();
        assert!(e.is_config(), "{e}");
    }
);
