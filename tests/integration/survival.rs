//! Integration tests: survival.
