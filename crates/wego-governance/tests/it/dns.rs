//! DNS discovery through the system resolver.

use std::time::Duration;

use wego_governance::Discover;
use wego_governance::discovery::dns::DnsDiscover;

use crate::support::until;

wego_test_support::each_backend!(
    resolves_localhost_and_shares_the_watch,
    |_backend| async move {
        let d = DnsDiscover::new(Duration::from_millis(100));
        let w = d.discover("localhost:4321").await.unwrap();
        let list = w.current();
        assert!(!list.is_empty());
        assert!(
            list.iter()
                .all(|i| i.address.as_tcp().unwrap().port() == 4321
                    && i.address.as_tcp().unwrap().ip().is_loopback()),
            "{list:?}"
        );
        let again = d.discover("localhost:4321").await.unwrap();
        assert_eq!(again.current(), list);
        assert_eq!(again.version(), w.version());
        // A refresh with the same answer publishes nothing new.
        let version = w.version();
        let refreshed = d.refreshes();
        until("two refreshes", Duration::from_secs(10), || {
            d.refreshes() >= refreshed + 2
        })
        .await;
        assert_eq!(w.version(), version);
        assert_eq!(w.current(), list);
    }
);

wego_test_support::each_backend!(
    an_unresolvable_name_is_a_discovery_error,
    |_backend| async move {
        let d = DnsDiscover::default();
        let err = d.discover("no port here").await.unwrap_err();
        assert!(err.is_discovery(), "{err:?}");
    }
);

#[cfg(not(feature = "dns-srv"))]
wego_test_support::each_backend!(
    an_srv_name_without_the_feature_names_the_feature,
    |_backend| async move {
        let d = DnsDiscover::default();
        let err = d.discover("_echo._tcp.example.test").await.unwrap_err();
        assert!(err.is_discovery(), "{err:?}");
        assert!(err.to_string().contains("dns-srv"), "{err}");
    }
);
