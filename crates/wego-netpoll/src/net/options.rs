//! Socket options shared by listeners and dialers.

use std::time::Duration;

/// TCP keepalive probes: idle time before the first probe, interval between
/// probes, and how many unanswered probes close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeepAlive {
    /// Idle time before the first probe.
    pub idle: Duration,
    /// Time between probes.
    pub interval: Duration,
    /// Unanswered probes before the kernel drops the connection.
    pub retries: u32,
}

impl KeepAlive {
    /// Keepalive after `idle`, then probes every `idle / 3`, three retries.
    pub fn new(idle: Duration) -> Self {
        Self {
            idle,
            interval: (idle / 3).max(Duration::from_secs(1)),
            retries: 3,
        }
    }

    /// Sets the time between probes.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets how many unanswered probes drop the connection.
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }
}

/// Per-connection options applied after accept or connect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnOptions {
    pub(crate) nodelay: bool,
    pub(crate) keepalive: Option<KeepAlive>,
}

impl Default for ConnOptions {
    fn default() -> Self {
        Self {
            nodelay: true,
            keepalive: None,
        }
    }
}

impl ConnOptions {
    /// Applies the options to a TCP socket; Unix sockets ignore them.
    pub(crate) fn apply(&self, sock: socket2::SockRef<'_>) -> std::io::Result<()> {
        sock.set_tcp_nodelay(self.nodelay)?;
        if let Some(ka) = self.keepalive {
            let params = socket2::TcpKeepalive::new()
                .with_time(ka.idle)
                .with_interval(ka.interval)
                .with_retries(ka.retries);
            sock.set_tcp_keepalive(&params)?;
        }
        Ok(())
    }
}
