//! Registry names as users type them.

/// `host`, `https://host/`, `http://host/path` → the part after the scheme, without a
/// trailing `/`: the one place a scheme a user typed is taken off.
pub fn without_scheme(input: &str) -> &str {
    input
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
}
