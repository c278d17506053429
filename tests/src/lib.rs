//! Cross-crate scenarios live in `tests/tests/`; this crate only hosts them and their helper binaries.
