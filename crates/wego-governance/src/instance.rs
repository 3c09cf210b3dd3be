//! A callable instance of a service: [`Instance`].

use std::collections::BTreeMap;
use std::fmt;

use wego_netpoll::Address;

/// One instance of a service: where it listens, its weight and its tags.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Instance {
    /// Where to dial it.
    pub address: Address,
    /// Relative weight for load balancing (0 means "receives no traffic").
    pub weight: u32,
    /// Free-form tags (zone, version, cluster).
    pub tags: BTreeMap<String, String>,
}

/// The weight an instance gets when none is given.
pub const DEFAULT_WEIGHT: u32 = 100;

impl Instance {
    /// Creates an instance with the default weight and no tags.
    pub fn new(address: Address) -> Self {
        Instance {
            address,
            weight: DEFAULT_WEIGHT,
            tags: BTreeMap::new(),
        }
    }

    /// Sets the weight.
    pub fn with_weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Adds a tag.
    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Returns a tag's value.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }
}

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (weight {})", self.address, self.weight)
    }
}
