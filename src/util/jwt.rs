//! The one JWT fact oauth-mux reads: the `exp` claim, without checking the signature (it
//! only schedules refreshes; the provider is the judge of validity).

use jiff::Timestamp;
use serde_json::Value;

/// The `exp` claim of a JWT (`header.payload.signature`), or `None` when the text is not
/// one or has no numeric `exp`.
pub fn exp(token: &str) -> Option<Timestamp> {
    let mut parts = token.trim().split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let bytes = super::base64url::decode(payload)?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp").and_then(Value::as_f64)?;
    if !exp.is_finite() || exp.abs() > 9e12 {
        return None;
    }
    Timestamp::from_millisecond((exp * 1000.0).round() as i64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exp_and_refuses_what_is_not_a_jwt() {
        let b64 = |s: &str| super::super::base64url::encode(s.as_bytes());
        let jwt = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"none"}"#),
            b64(r#"{"exp":1800000000}"#)
        );
        assert_eq!(
            exp(&jwt),
            Some(Timestamp::from_second(1_800_000_000).unwrap())
        );
        assert_eq!(exp("not-a-jwt"), None);
        let no_exp = format!("{}.{}.sig", b64("{}"), b64(r#"{"sub":"x"}"#));
        assert_eq!(exp(&no_exp), None);
    }
}
