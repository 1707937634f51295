//! Integration tests: response.
