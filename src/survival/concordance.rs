//! Harrell's concordance of a Cox model's risk score, with the infinitesimal-jackknife
//! standard error, as R's `concordance()` reports for `coxph` (timewt "n", ties in the risk
//! score count one half, pairs tied on time are not comparable). O(n log n): subjects are
//! swept from the longest time down while two Fenwick trees over the ranks of the risk score
//! hold everyone already passed and the events already passed.

use super::Concordance;
use super::order::f64_key;

/// Counts by rank, answering "how many below / equal / above rank r". Unit weights, so
/// integer counts: half the memory of f64, which matters when every score is distinct.
struct Fenwick {
    tree: Vec<u32>,
    point: Vec<u32>,
    total: u32,
}

impl Fenwick {
    fn new(n: usize) -> Self {
        Self {
            tree: vec![0; n + 1],
            point: vec![0; n],
            total: 0,
        }
    }

    fn add(&mut self, r: usize) {
        self.point[r] += 1;
        self.total += 1;
        let mut i = r + 1;
        while i < self.tree.len() {
            self.tree[i] += 1;
            i += i & i.wrapping_neg();
        }
    }

    /// Count with rank < r.
    fn below(&self, r: usize) -> u32 {
        let mut s = 0;
        let mut i = r;
        while i > 0 {
            s += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        s
    }

    /// (greater, smaller, equal) counts relative to rank r.
    fn split(&self, r: usize) -> [f64; 3] {
        let lo = self.below(r);
        let eq = self.point[r];
        [(self.total - lo - eq) as f64, lo as f64, eq as f64]
    }
}

/// Concordance between survival and a risk score `lp` (higher risk, shorter survival is
/// concordant), within strata.
pub(crate) fn concordance(
    time: &[f64],
    event: &[bool],
    lp: &[f64],
    stratum: &[usize],
) -> Concordance {
    let n = time.len();
    // Per-observation pair counts: [0] risk lower than the partner's who died first (from
    // the shorter time's view: the longer survivor has the larger score), [1] the opposite,
    // [2] tied score. Oriented as R's concordancefit before `reverse`.
    // Influence rows are kept in sweep order (not input order) so that every pass is
    // sequential in memory; only their sum of squares is needed.
    let mut infl: Vec<[f64; 3]> = Vec::with_capacity(n);
    let mut count = [0.0f64; 5];
    // Strata are dense codes 0..k.
    let k = stratum.iter().max().map_or(0, |m| m + 1);
    let mut by_stratum: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &s) in stratum.iter().enumerate() {
        by_stratum[s].push(i);
    }
    by_stratum.retain(|v| !v.is_empty());
    let mut rank_of = vec![0u32; n];
    for idx in &by_stratum {
        // Ranks of the score within the stratum (exact ties share a rank; -0 equals 0).
        let mut by_lp: Vec<(u64, u32)> = idx
            .iter()
            .map(|&i| (f64_key(lp[i] + 0.0), i as u32))
            .collect();
        by_lp.sort_unstable();
        let mut nr = 0u32;
        for k in 0..by_lp.len() {
            if k > 0 && by_lp[k].0 != by_lp[k - 1].0 {
                nr += 1;
            }
            rank_of[by_lp[k].1 as usize] = nr;
        }
        let nrank = nr as usize + 1;
        // Longest time first; at equal time censored before events (they are "at risk").
        let mut keyed: Vec<(u64, bool, u32)> = idx
            .iter()
            .map(|&i| (!f64_key(time[i]), event[i], rank_of[i]))
            .collect();
        keyed.sort_unstable();
        let m = keyed.len();
        let base = infl.len();
        infl.resize(base + m, [0.0; 3]);
        let inf = &mut infl[base..];
        let mut all = Fenwick::new(nrank);
        let mut dead = Fenwick::new(nrank);
        let mut i = 0;
        while i < m {
            let (tk, ev, r) = keyed[i];
            if !ev {
                let [g, s, e] = dead.split(r as usize);
                inf[i] = [-s, -g, -e];
                all.add(r as usize);
                i += 1;
                continue;
            }
            let mut j = i;
            while j < m && keyed[j].0 == tk && keyed[j].1 {
                j += 1;
            }
            let nd = (j - i) as f64;
            // Pairs of deaths at the same time: tied on y (and on x as well when equal score).
            count[3] += nd * (nd - 1.0) / 2.0;
            let mut a = i;
            while a < j {
                let mut b = a;
                while b < j && keyed[b].2 == keyed[a].2 {
                    b += 1;
                }
                let c = (b - a) as f64;
                count[4] += c * (c - 1.0) / 2.0;
                a = b;
            }
            for q in i..j {
                let r = keyed[q].2 as usize;
                let w = all.split(r);
                for c in 0..3 {
                    count[c] += w[c];
                }
                inf[q] = w;
                dead.add(r);
            }
            for q in i..j {
                let r = keyed[q].2 as usize;
                let [g, s, e] = dead.split(r);
                inf[q][0] -= s;
                inf[q][1] -= g;
                inf[q][2] -= e;
                all.add(r);
            }
            i = j;
        }
        for q in 0..m {
            let [g, s, e] = dead.split(keyed[q].2 as usize);
            inf[q][0] += s;
            inf[q][1] += g;
            inf[q][2] += e;
        }
    }
    count[3] -= count[4];
    let npair = count[0] + count[1] + count[2];
    let somer = (count[0] - count[1]) / npair;
    let mut var = 0.0;
    for f in &infl {
        let dfb = (f[0] - f[1]) / npair - (somer / npair) * (f[0] + f[1] + f[2]);
        var += dfb * dfb;
    }
    var /= 4.0;
    // `reverse = TRUE`: a higher risk score should go with a shorter time.
    Concordance {
        c: 1.0 - (somer + 1.0) / 2.0,
        se: var.sqrt(),
        concordant: count[1],
        discordant: count[0],
        tied_x: count[2],
        tied_y: count[3],
        tied_xy: count[4],
    }
}
