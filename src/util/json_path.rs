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

/// Set the value at a dot path, creating objects along the way. Every other key keeps its
/// value and place. `Err` names the segment that is not an object (an array or a scalar is
/// never replaced: the caller's document is not ours to reshape).
pub fn set(value: &mut Value, path: &str, new: Value) -> Result<(), String> {
    let segments: Vec<&str> = path.split('.').collect();
    if path.is_empty() || segments.iter().any(|s| s.is_empty()) {
        return Err(format!("{path:?} is not a dot path"));
    }
    let (last, parents) = segments.split_last().expect("at least one segment");
    let mut node = value;
    for (i, segment) in parents.iter().enumerate() {
        let Value::Object(map) = node else {
            return Err(format!("{} is not an object", segments[..i].join(".")));
        };
        node = map
            .entry(segment.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    match node {
        Value::Object(map) => {
            map.insert(last.to_string(), new);
            Ok(())
        }
        _ => Err(format!("{} is not an object", parents.join("."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_in_place_and_creates_missing_objects() {
        let mut v = serde_json::json!({"z": 1, "tokens": {"b": 2, "a": "old"}, "y": 3});
        set(&mut v, "tokens.a", serde_json::json!("new")).unwrap();
        set(&mut v, "fresh.deep.key", serde_json::json!(true)).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"z":1,"tokens":{"b":2,"a":"new"},"y":3,"fresh":{"deep":{"key":true}}}"#
        );
        assert!(set(&mut v, "z.x", serde_json::json!(1)).is_err());
        assert!(set(&mut v, "", serde_json::json!(1)).is_err());
        assert!(set(&mut v, "a..b", serde_json::json!(1)).is_err());
    }

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
