//! An answer's header fields as they came: one buffer holding them all (names lower-cased)
//! and where each lies in it. Providers send 20–30 fields with each answer (rate limits,
//! usage, request ids); kept as a map of owned names and values they cost an allocation or
//! two each, three times over (the map, the classifier's evidence, the copy shown to the
//! harness). Here they cost two allocations together: the classifier reads them where they
//! are ([`HeaderLookup`]) and the harness's copy borrows them.

use std::ops::Range;

use crate::model::classify::HeaderLookup;

/// Header fields, in the order received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    bytes: Vec<u8>,
    spans: Vec<(Range<usize>, Range<usize>)>,
}

/// A field value that can go on the wire: no CR, LF, NUL or other control byte but HTAB.
pub fn value_ok(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// A field name that is an RFC 9110 token.
pub fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Fields {
    /// Fields from `(name, value)` pairs; `None` when a name is not a token or a value
    /// holds a byte a field cannot.
    pub fn new<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a [u8])> + Clone,
    ) -> Option<Fields> {
        let size: usize = fields
            .clone()
            .into_iter()
            .map(|(n, v)| n.len() + v.len())
            .sum();
        let mut out = Fields {
            bytes: Vec::with_capacity(size),
            spans: Vec::new(),
        };
        for (name, value) in fields {
            if !name_ok(name) || !value_ok(value) {
                return None;
            }
            let at = out.bytes.len();
            out.bytes
                .extend(name.bytes().map(|b| b.to_ascii_lowercase()));
            let name_end = out.bytes.len();
            out.bytes.extend_from_slice(value);
            out.spans.push((at..name_end, name_end..out.bytes.len()));
        }
        Some(out)
    }

    /// Every field, names lower-case.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.spans.iter().map(|(name, value)| {
            // Names are tokens (ASCII), checked when the fields were made.
            let name = std::str::from_utf8(&self.bytes[name.clone()]).unwrap_or("");
            (name, &self.bytes[value.clone()])
        })
    }

    /// Every value of the field `name` (lower-case).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.spans
            .iter()
            .filter(move |(n, _)| self.bytes[n.clone()] == *name.as_bytes())
            .map(|(_, v)| &self.bytes[v.clone()])
    }

    /// The first value of the field `name` (lower-case).
    pub fn get<'a>(&'a self, name: &'a str) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }
}

impl HeaderLookup for Fields {
    fn header(&self, name: &str) -> Option<&str> {
        let (_, value) = self
            .spans
            .iter()
            .find(|(n, _)| self.bytes[n.clone()].eq_ignore_ascii_case(name.as_bytes()))?;
        std::str::from_utf8(&self.bytes[value.clone()])
            .ok()
            .map(str::trim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_order_and_values_with_names_lower_cased() {
        let fields = Fields::new([
            ("Content-Type", b"text/event-stream".as_slice()),
            ("X-Multi", b"1"),
            ("x-multi", b"2"),
            ("empty", b""),
        ])
        .unwrap();
        let all: Vec<(&str, &[u8])> = fields.iter().collect();
        assert_eq!(
            all,
            [
                ("content-type", b"text/event-stream".as_slice()),
                ("x-multi", b"1"),
                ("x-multi", b"2"),
                ("empty", b""),
            ]
        );
        assert_eq!(
            fields.get("content-type"),
            Some(b"text/event-stream".as_slice())
        );
        assert_eq!(fields.get_all("x-multi").collect::<Vec<_>>(), [b"1", b"2"]);
        assert_eq!(fields.get("absent"), None);
        assert_eq!(fields.iter().count(), 4);
    }

    #[test]
    fn the_classifier_finds_a_field_by_any_case_with_its_value_trimmed() {
        let fields = Fields::new([
            ("Retry-After", b" 30 ".as_slice()),
            ("retry-after", b"99"),
            ("x-bytes", b"\xff"),
        ])
        .unwrap();
        assert_eq!(fields.header("RETRY-after"), Some("30"));
        assert_eq!(fields.header("x-bytes"), None, "a value that is not text");
        assert_eq!(fields.header("absent"), None);
    }

    #[test]
    fn names_that_are_not_tokens_and_values_with_control_bytes_are_refused() {
        assert!(Fields::new([("bad name", b"v".as_slice())]).is_none());
        assert!(Fields::new([("", b"v".as_slice())]).is_none());
        assert!(Fields::new([("x", b"a\r\nb".as_slice())]).is_none());
        assert!(Fields::new([("x", b"a\x7fb".as_slice())]).is_none());
        assert!(Fields::new([("x", b"a\tb \x80\xff".as_slice())]).is_some());
    }
}
