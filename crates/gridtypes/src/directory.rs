//! The directory: twins (people and services, by key) and farms (groups of nodes a twin owns).
//!
//! A twin's `id` is a small number the explorer assigns when the twin registers; everything
//! else refers to twins by that id and looks the key up in the phonebook, so a key is never
//! trusted just because a record carries it.

use identity::{Encoder, PublicKey};
use serde::{Deserialize, Serialize};

use crate::validate::{entity_name, host, text, TEXT_MAX};
use crate::ValidationError;

/// A registered identity (a user's 3Bot, a farmer, a service): the phonebook entry that maps a
/// twin id to the key whose signatures count for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Twin {
    /// Assigned by the explorer at registration (from 1).
    pub id: u32,
    /// Unique, lowercase `a-z 0-9 . -`, 3 to 64 characters, e.g. `bob.3bot`.
    pub name: String,
    /// The ed25519 key the twin signs with.
    pub key: PublicKey,
    /// How to reach the twin's 3Bot, if it can be reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl Twin {
    /// Checks the name and host rules, so a bad registration is refused with a clear message.
    pub fn validate(&self) -> Result<(), ValidationError> {
        entity_name("name", "twin", &self.name)?;
        if let Some(h) = &self.host {
            host("host", "twin host", h)?;
        }
        Ok(())
    }
}

/// Where a farm or node is, for people choosing nodes (not used in any decision by the grid).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Country name or ISO code, free text.
    #[serde(default)]
    pub country: String,
    /// City, free text.
    #[serde(default)]
    pub city: String,
    /// Degrees north, -90 to 90.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    /// Degrees east, -180 to 180.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
}

impl Location {
    /// Checks lengths and coordinate ranges; `field` is where the location sits (`location`).
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        if !self.country.is_empty() {
            text(&format!("{field}.country"), "country", &self.country, TEXT_MAX)?;
        }
        if !self.city.is_empty() {
            text(&format!("{field}.city"), "city", &self.city, TEXT_MAX)?;
        }
        let check = |name: &str, v: Option<f64>, limit: f64| match v {
            Some(v) if !(v.is_finite() && (-limit..=limit).contains(&v)) => Err(ValidationError::new(
                format!("{field}.{name}"),
                format!("{name} {v} is out of range; it must be between -{limit} and {limit} degrees"),
            )),
            _ => Ok(()),
        };
        check("latitude", self.latitude, 90.0)?;
        check("longitude", self.longitude, 180.0)?;
        if self.latitude.is_some() != self.longitude.is_some() {
            return Err(ValidationError::new(
                field,
                format!("{field} has only one of latitude and longitude; give both or neither"),
            ));
        }
        Ok(())
    }

    /// Canonical bytes: `str country, str city, option u64 latitude, option u64 longitude`,
    /// each coordinate as the IEEE 754 bits of the f64 (exact, and JSON keeps it exact).
    pub fn encode(&self, e: &mut Encoder) {
        e.str(&self.country).str(&self.city);
        e.option(self.latitude, |e, v| {
            e.u64(v.to_bits());
        });
        e.option(self.longitude, |e, v| {
            e.u64(v.to_bits());
        });
    }
}

/// A farm: nodes are registered into one, and its owner twin is who answers for them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Farm {
    /// Assigned by the explorer (from 1).
    pub id: u32,
    /// Unique, lowercase `a-z 0-9 . -`, 3 to 64 characters.
    pub name: String,
    /// The owner's twin id.
    pub owner: u32,
    /// Where the farm is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Farm {
    /// Checks the name and location rules.
    pub fn validate(&self) -> Result<(), ValidationError> {
        entity_name("name", "farm", &self.name)?;
        if let Some(l) = &self.location {
            l.validate("location")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_rules() {
        let mut l =
            Location { country: "BE".into(), city: "Ghent".into(), latitude: Some(51.05), longitude: Some(3.72) };
        l.validate("location").unwrap();
        l.latitude = Some(91.0);
        let err = l.validate("location").unwrap_err();
        assert_eq!(err.field, "location.latitude");
        assert_eq!(err.message, "latitude 91 is out of range; it must be between -90 and 90 degrees");
        l.latitude = Some(f64::NAN);
        assert!(l.validate("location").is_err());
        l.latitude = Some(0.0);
        l.longitude = Some(-180.5);
        assert_eq!(
            l.validate("location").unwrap_err().message,
            "longitude -180.5 is out of range; it must be between -180 and 180 degrees"
        );
        l.longitude = None;
        assert_eq!(
            l.validate("location").unwrap_err().message,
            "location has only one of latitude and longitude; give both or neither"
        );
        l.latitude = None;
        l.city = "x".repeat(65);
        assert!(l.validate("location").unwrap_err().message.contains("must be 1 to 64 characters"));
    }
}
