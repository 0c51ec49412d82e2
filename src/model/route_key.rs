//! Route keys: `provider:account` (account level) or `provider:account#capability`.

use std::fmt;
use std::str::FromStr;

/// A route (or, without a capability, an account) that health is recorded for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteKey {
    pub provider: String,
    pub account: String,
    pub capability: Option<String>,
}

/// Why a route key failed to parse. The message says what a valid key looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteKeyError {
    pub input: String,
    pub problem: &'static str,
}

impl fmt::Display for RouteKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid route {:?}: {}; expected provider:account or provider:account#capability",
            self.input, self.problem
        )
    }
}

impl std::error::Error for RouteKeyError {}

impl RouteKey {
    pub fn new(provider: &str, account: &str, capability: Option<&str>) -> Self {
        Self {
            provider: provider.to_owned(),
            account: account.to_owned(),
            capability: capability.map(str::to_owned),
        }
    }

    /// Parse `provider:account[#capability]`: split on the first `:`, then on the
    /// first `#` of the rest. Every present part must be non-empty.
    pub fn parse(input: &str) -> Result<Self, RouteKeyError> {
        let err = |problem| RouteKeyError {
            input: input.to_owned(),
            problem,
        };
        let (provider, rest) = input.split_once(':').ok_or_else(|| err("missing ':'"))?;
        let (account, capability) = match rest.split_once('#') {
            Some((account, capability)) => (account, Some(capability)),
            None => (rest, None),
        };
        if provider.is_empty() {
            return Err(err("empty provider"));
        }
        if account.is_empty() {
            return Err(err("empty account"));
        }
        if capability.is_some_and(str::is_empty) {
            return Err(err("empty capability after '#'"));
        }
        if provider.chars().any(char::is_whitespace)
            || account.chars().any(char::is_whitespace)
            || capability.is_some_and(|c| c.chars().any(char::is_whitespace))
        {
            return Err(err("whitespace inside the key"));
        }
        Ok(Self::new(provider, account, capability))
    }

    /// The account-level key of this route (`provider:account`).
    pub fn account_key(&self) -> RouteKey {
        RouteKey {
            capability: None,
            ..self.clone()
        }
    }

    pub fn with_capability(&self, capability: &str) -> RouteKey {
        RouteKey {
            capability: Some(capability.to_owned()),
            ..self.clone()
        }
    }

    pub fn is_account_level(&self) -> bool {
        self.capability.is_none()
    }
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.provider, self.account)?;
        if let Some(capability) = &self.capability {
            write!(f, "#{capability}")?;
        }
        Ok(())
    }
}

impl FromStr for RouteKey {
    type Err = RouteKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for RouteKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RouteKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RouteKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_account_and_route_keys() {
        let k = RouteKey::parse("codex:max-1#codex-max").unwrap();
        assert_eq!(
            (k.provider.as_str(), k.account.as_str()),
            ("codex", "max-1")
        );
        assert_eq!(k.capability.as_deref(), Some("codex-max"));
        assert_eq!(k.to_string(), "codex:max-1#codex-max");
        let a = RouteKey::parse("codex:max-1").unwrap();
        assert!(a.is_account_level());
        assert_eq!(k.account_key(), a);
    }

    #[test]
    fn splits_on_first_colon_and_first_hash() {
        let k = RouteKey::parse("mcp:figma:eu#res#2").unwrap();
        assert_eq!(k.account, "figma:eu");
        assert_eq!(k.capability.as_deref(), Some("res#2"));
    }

    #[test]
    fn rejects_empty_parts_and_missing_colon() {
        for bad in [
            "",
            "codex",
            ":a",
            "codex:",
            "codex:#cap",
            "codex:a#",
            "co dex:a",
            "codex:a b",
        ] {
            let err = RouteKey::parse(bad).unwrap_err();
            assert!(
                err.to_string().contains("expected provider:account"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn round_trips_through_display() {
        for key in ["a:b", "a:b#c", "toy:a1#expensive"] {
            assert_eq!(RouteKey::parse(key).unwrap().to_string(), key);
        }
    }
}
