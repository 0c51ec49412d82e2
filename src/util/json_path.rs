//! Dot paths into JSON values (`error.resets_in_seconds`, `tokens.0.access`), as provider
//! definitions write them.

use serde_json::Value;

/// The value at a dot path; a numeric segment indexes an array. An empty path or segment
/// finds nothing.
pub fn get<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return None;
    }
    path.split('.').try_fold(value, |node, segment| {
        if segment.is_empty() {
            return None;
        }
        match node {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_objects_and_arrays() {
        let v = serde_json::json!({"a": {"b": [{"c": 1}, {"c": 2}]}, "x": 3});
        assert_eq!(get(&v, "a.b.1.c"), Some(&serde_json::json!(2)));
        assert_eq!(get(&v, "x"), Some(&serde_json::json!(3)));
        assert_eq!(get(&v, "a.b.9.c"), None);
        assert_eq!(get(&v, "a..b"), None);
        assert_eq!(get(&v, ""), None);
        assert_eq!(get(&v, "x.y"), None);
    }
}
