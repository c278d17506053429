//! `obj!`: `serde_json::json!`'s syntax, but values that are expressions are moved into the tree
//! (`Value::from`) instead of serialised into a copy (`json!` calls `to_value(&expr)`, which
//! deep-copies every `Value` it is given: for resources made of nested references, codings and
//! quantities that copying was much of the export's time).
//!
//! Keys are string literals; a value is `null`, a nested `{…}` or `[…]`, or any expression whose
//! type converts into a `Value` (`&str`, `String`, numbers, `bool`, `Value`, `Option` of these,
//! `Vec` of these).

macro_rules! obj {
    (null) => { serde_json::Value::Null };
    ({ $($body:tt)* }) => {{
        #[allow(unused_mut)]
        let mut m = serde_json::Map::new();
        $crate::fhir::obj::obj!(@object m ($($body)*));
        serde_json::Value::Object(m)
    }};
    ([ $($body:tt)* ]) => {{
        #[allow(unused_mut)]
        let mut v = $crate::fhir::obj::array();
        $crate::fhir::obj::obj!(@array v () ($($body)*));
        serde_json::Value::Array(v)
    }};
    ($e:expr) => { serde_json::Value::from($e) };

    // An object's `"key": value` pairs, separated by commas.
    (@object $m:ident ()) => {};
    (@object $m:ident ($k:literal : $($rest:tt)*)) => {
        $crate::fhir::obj::obj!(@value $m $k () ($($rest)*));
    };
    // A value is the tokens up to the next comma at this level.
    (@value $m:ident $k:literal ($($v:tt)+) (, $($rest:tt)*)) => {
        $m.insert($k.into(), $crate::fhir::obj::obj!($($v)+));
        $crate::fhir::obj::obj!(@object $m ($($rest)*));
    };
    (@value $m:ident $k:literal ($($v:tt)+) ()) => {
        $m.insert($k.into(), $crate::fhir::obj::obj!($($v)+));
    };
    (@value $m:ident $k:literal ($($v:tt)*) ($next:tt $($rest:tt)*)) => {
        $crate::fhir::obj::obj!(@value $m $k ($($v)* $next) ($($rest)*));
    };

    // An array's items, separated by commas.
    (@array $a:ident () ()) => {};
    (@array $a:ident ($($v:tt)+) ()) => {
        $a.push($crate::fhir::obj::obj!($($v)+));
    };
    (@array $a:ident ($($v:tt)+) (, $($rest:tt)*)) => {
        $a.push($crate::fhir::obj::obj!($($v)+));
        $crate::fhir::obj::obj!(@array $a () ($($rest)*));
    };
    (@array $a:ident ($($v:tt)*) ($next:tt $($rest:tt)*)) => {
        $crate::fhir::obj::obj!(@array $a ($($v)* $next) ($($rest)*));
    };
}

pub(crate) use obj;

/// An empty array for `obj!([…])` to push its elements onto (a function, not `Vec::new()`, so
/// that each expansion is not flagged as "push right after creation").
pub(crate) fn array() -> Vec<serde_json::Value> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    #[test]
    fn builds_what_json_builds() {
        let inner = json!({"reference": "urn:uuid:x"});
        let none: Option<&str> = None;
        let on = true;
        let built = obj!({
            "resourceType": "Observation",
            "subject": inner.clone(),
            "status": if on { "final" } else { "entered-in-error" },
            "missing": none,
            "nothing": null,
            "list": [1, {"a": [2, 3]}, format!("{}-{}", 4, 5)],
            "empty": [],
            "nested": {"deep": {"deeper": 1.5}},
        });
        let expected: Value = json!({
            "resourceType": "Observation",
            "subject": inner,
            "status": "final",
            "missing": null,
            "nothing": null,
            "list": [1, {"a": [2, 3]}, "4-5"],
            "empty": [],
            "nested": {"deep": {"deeper": 1.5}},
        });
        assert_eq!(built, expected);
    }
}
