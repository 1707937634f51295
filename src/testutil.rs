//! Helpers shared by unit tests.

/// A xorshift64 generator: many deterministic random cases without a dependency, the same
/// on every run (a failing case number reproduces).
pub fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// In-plane direction pairs (row, column) along the patient axes: axial, sagittal, coronal
/// and a flipped axial. Products with them are exact, so geometry along them is too.
pub const AXIS_PLANES: [([f64; 3], [f64; 3]); 4] = [
    ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]),
    ([0.0, 1.0, 0.0], [0.0, 0.0, -1.0]),
    ([1.0, 0.0, 0.0], [0.0, 0.0, -1.0]),
    ([-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]),
];
