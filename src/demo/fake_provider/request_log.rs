//! One request as the fake provider received it.

use crate::proxy::framing::RequestHead;

/// A request the fake received: method, target exactly as sent (path and query, an
/// absolute URL through a proxy, or a `CONNECT` authority), headers and body.
#[derive(Clone, Debug, PartialEq)]
pub struct SeenRequest {
    pub method: String,
    pub target: String,
    /// Header names lower-cased, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SeenRequest {
    pub(super) fn new(head: &RequestHead, body: Vec<u8>) -> SeenRequest {
        SeenRequest {
            method: head.method().to_string(),
            target: head.target().to_string(),
            headers: head
                .headers()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect(),
            body,
        }
    }

    /// Bytes that were not an HTTP request at all (a TLS hello, garbage, a torn head).
    pub(super) fn unreadable() -> SeenRequest {
        SeenRequest {
            method: "<unreadable>".into(),
            target: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The credential it carries: the bearer token of `Authorization` (the whole value when
    /// it is no bearer), else `x-api-key`.
    pub fn credential(&self) -> Option<String> {
        if let Some(value) = self.header("authorization") {
            return Some(value.strip_prefix("Bearer ").unwrap_or(value).to_owned());
        }
        self.header("x-api-key").map(str::to_owned)
    }

    /// The body as (lossy) text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `METHOD target`, as the request line began.
    pub fn request_line(&self) -> String {
        format!("{} {}", self.method, self.target)
    }
}
