//! Protocol switches through the proxy: once both sides have switched
//! (the upstream's `101` read, the client's written), the two upgraded
//! connections are spliced with `tokio::io::copy_bidirectional`.

use http::response::Parts;
use http::{HeaderValue, Response, header};
use wego_netpoll::rt;

use super::ProxyError;
use super::headers::remove_hop_by_hop;
use crate::client::upgrade::Slot;
use crate::{Body, upgrade};

/// Answers the client's upgrade with the upstream's `101` head and
/// splices the two connections on a task of their own.
///
/// `downstream` is the client's upgrade, taken from its request; `None`
/// when the request did not ask to switch, and then the upstream's `101`
/// is a bad response.
pub(crate) fn switch(
    downstream: Option<upgrade::OnUpgrade>,
    parts: Parts,
) -> Result<Response<Body>, ProxyError> {
    let Some(downstream) = downstream else {
        tracing::debug!("upstream switched protocols for a request that did not ask to");
        return Err(ProxyError::BadResponse);
    };
    if parts.extensions.get::<Slot>().is_none() {
        // The client service's response carries no connection to take: it
        // is not wego's Client, or a layer dropped the extensions.
        tracing::debug!("upstream's 101 carries no upgradable connection");
        return Err(ProxyError::BadResponse);
    }
    let mut resp = Response::from_parts(parts, Body::empty());
    let upstream = upgrade::on(&mut resp);
    remove_hop_by_hop(resp.headers_mut(), true);
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    rt::spawn(async move {
        let (down, up) = tokio::join!(downstream, upstream);
        match (down, up) {
            (Ok(mut down), Ok(mut up)) => {
                match tokio::io::copy_bidirectional(&mut down, &mut up).await {
                    Ok((to_up, to_down)) => {
                        tracing::debug!(to_up, to_down, "upgraded connection finished");
                    }
                    Err(e) => tracing::debug!(error = %e, "upgraded connection failed"),
                }
            }
            // Dropping the side that switched closes it.
            (down, up) => tracing::debug!(
                client = ?down.err(),
                upstream = ?up.err(),
                "one side of the upgrade did not switch"
            ),
        }
    });
    Ok(resp)
}
