//! Decoding one source image (for key images). Owned by issue 8.
