//! The facade's task types: [`JoinHandle`] and [`JoinError`], over each
//! backend's.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

#[cfg(feature = "polling")]
use super::sys::polling;

/// A handle to a spawned task: await it for the task's output, or abort it.
///
/// Dropping the handle detaches the task; it keeps running.
pub struct JoinHandle<T> {
    inner: Inner<T>,
}

enum Inner<T> {
    #[cfg(feature = "tokio")]
    Tokio(tokio::task::JoinHandle<T>),
    #[cfg(feature = "polling")]
    Polling(polling::JoinHandle<T>),
}

impl<T> JoinHandle<T> {
    #[cfg(feature = "tokio")]
    pub(crate) fn from_tokio(inner: tokio::task::JoinHandle<T>) -> Self {
        Self {
            inner: Inner::Tokio(inner),
        }
    }

    #[cfg(feature = "polling")]
    pub(crate) fn from_polling(inner: polling::JoinHandle<T>) -> Self {
        Self {
            inner: Inner::Polling(inner),
        }
    }

    /// Cancels the task at its next await point.
    pub fn abort(&self) {
        match &self.inner {
            #[cfg(feature = "tokio")]
            Inner::Tokio(h) => h.abort(),
            #[cfg(feature = "polling")]
            Inner::Polling(h) => h.abort(),
        }
    }

    /// Returns true if the task has finished (completed, panicked or aborted).
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            #[cfg(feature = "tokio")]
            Inner::Tokio(h) => h.is_finished(),
            #[cfg(feature = "polling")]
            Inner::Polling(h) => h.is_finished(),
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            #[cfg(feature = "tokio")]
            Inner::Tokio(h) => Pin::new(h).poll(cx).map_err(JoinError::from_tokio),
            #[cfg(feature = "polling")]
            Inner::Polling(h) => h.poll_outcome(cx).map(|out| match out {
                polling::Outcome::Done(v) => Ok(v),
                polling::Outcome::Panicked(p) => Err(JoinError::panic(p)),
                polling::Outcome::Cancelled => Err(JoinError::cancelled()),
            }),
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a task did not return its output: it panicked or was aborted.
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    /// Behind a mutex so that the error is `Sync`, as tokio's is.
    Panic(Mutex<Box<dyn Any + Send + 'static>>),
}

impl JoinError {
    fn cancelled() -> Self {
        Self {
            repr: Repr::Cancelled,
        }
    }

    fn panic(payload: Box<dyn Any + Send + 'static>) -> Self {
        Self {
            repr: Repr::Panic(Mutex::new(payload)),
        }
    }

    #[cfg(feature = "tokio")]
    fn from_tokio(e: tokio::task::JoinError) -> Self {
        match e.try_into_panic() {
            Ok(payload) => Self::panic(payload),
            Err(_) => Self::cancelled(),
        }
    }

    /// Returns true if the task was aborted (or dropped by its runtime's
    /// shutdown).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// Returns true if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// Returns the panic payload, to resume the panic on this thread.
    ///
    /// # Errors
    ///
    /// Returns the error back when the task did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p.into_inner().unwrap_or_else(PoisonError::into_inner)),
            Repr::Cancelled => Err(self),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panic(_) => f.write_str("JoinError::Panic(..)"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_cancelled() {
            f.write_str("task was cancelled")
        } else {
            f.write_str("task panicked")
        }
    }
}

impl std::error::Error for JoinError {}
