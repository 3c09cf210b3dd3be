//! Shared application state.

use std::any::type_name;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use http::Extensions;
use http::request::Parts;

use super::{FromRequestParts, Rejection};

/// Shared state registered with [`crate::Router::with_state`], cloned into
/// each handler that asks for it.
///
/// The state is looked up by type when the request arrives; a handler that
/// asks for a type no router registered answers 500
/// ([`Rejection::MissingState`]), so register state before serving. Keep
/// `T` cheap to clone (wrap it in an `Arc`).
#[derive(Debug, Clone, Copy, Default)]
pub struct State<T>(pub T);

/// The states registered on a router; inserted into every request's
/// extensions by the router.
#[derive(Debug, Clone, Default)]
pub(crate) struct AppState(pub(crate) Arc<Extensions>);

impl<T> FromRequestParts for State<T>
where
    T: Clone + Send + Sync + 'static,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Rejection> {
        parts
            .extensions
            .get::<AppState>()
            .and_then(|s| s.0.get::<T>())
            .cloned()
            .map(State)
            .ok_or(Rejection::MissingState(type_name::<T>()))
    }
}

impl<T> Deref for State<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for State<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
