//! Harrell's concordance of a Cox model's risk score, with the infinitesimal-jackknife
//! standard error, as R's `concordance()` reports for `coxph` (timewt "n", ties in the risk
//! score count one half, pairs tied on time are not comparable). O(n log n): subjects are
//! swept from the longest time down while two Fenwick trees over the ranks of the risk score
//! hold everyone already passed and the events already passed.

use super::Concordance;

/// Sums of weights by rank, answering "how many below / equal / above rank r".
struct Fenwick {
    tree: Vec<f64>,
    point: Vec<f64>,
    total: f64,
}

impl Fenwick {
    fn new(n: usize) -> Self {
        Self {
            tree: vec![0.0; n + 1],
            point: vec![0.0; n],
            total: 0.0,
        }
    }

    fn add(&mut self, r: usize, w: f64) {
        self.point[r] += w;
        self.total += w;
        let mut i = r + 1;
        while i < self.tree.len() {
            self.tree[i] += w;
            i += i & i.wrapping_neg();
        }
    }

    /// Total weight with rank < r.
    fn below(&self, r: usize) -> f64 {
        let mut s = 0.0;
        let mut i = r;
        while i > 0 {
            s += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        s
    }

    /// (greater, smaller, equal) weights relative to rank r.
    fn split(&self, r: usize) -> [f64; 3] {
        let lo = self.below(r);
        let eq = self.point[r];
        [self.total - lo - eq, lo, eq]
    }
}

/// Concordance between survival and a risk score `lp` (higher risk, shorter survival is
/// concordant), within strata.
pub fn concordance(time: &[f64], event: &[bool], lp: &[f64], stratum: &[usize]) -> Concordance {
    let n = time.len();
    // Per-observation pair counts: [0] risk lower than the partner's who died first (from
    // the shorter time's view: the longer survivor has the larger score), [1] the opposite,
    // [2] tied score. Oriented as R's concordancefit before `reverse`.
    let mut infl = vec![[0.0f64; 3]; n];
    let mut count = [0.0f64; 5];
    let mut by_stratum: Vec<Vec<usize>> = Vec::new();
    {
        let mut ids: Vec<usize> = stratum.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut map = std::collections::HashMap::new();
        for (k, s) in ids.iter().enumerate() {
            map.insert(*s, k);
        }
        by_stratum.resize(ids.len(), Vec::new());
        for i in 0..n {
            by_stratum[map[&stratum[i]]].push(i);
        }
    }
    let mut rank_of = vec![0usize; n];
    for idx in &by_stratum {
        // Ranks of the score within the stratum (exact ties share a rank).
        let mut by_lp = idx.clone();
        by_lp.sort_by(|&a, &b| lp[a].total_cmp(&lp[b]));
        let mut nr = 0usize;
        for (k, &i) in by_lp.iter().enumerate() {
            if k > 0 && lp[i] != lp[by_lp[k - 1]] {
                nr += 1;
            }
            rank_of[i] = nr;
        }
        let nrank = nr + 1;
        let rk = |i: usize| rank_of[i];
        // Longest time first; at equal time censored before events (they are "at risk").
        let mut ord = idx.clone();
        ord.sort_by(|&a, &b| {
            time[b]
                .total_cmp(&time[a])
                .then_with(|| event[a].cmp(&event[b]))
                .then_with(|| lp[a].total_cmp(&lp[b]))
        });
        let mut all = Fenwick::new(nrank);
        let mut dead = Fenwick::new(nrank);
        let m = ord.len();
        let mut i = 0;
        while i < m {
            let ii = ord[i];
            if !event[ii] {
                let [g, s, e] = dead.split(rk(ii));
                infl[ii][0] -= s;
                infl[ii][1] -= g;
                infl[ii][2] -= e;
                all.add(rk(ii), 1.0);
                i += 1;
                continue;
            }
            let t = time[ii];
            let mut j = i;
            while j < m && time[ord[j]] == t && event[ord[j]] {
                j += 1;
            }
            let nd = (j - i) as f64;
            // Pairs of deaths at the same time: tied on y (and on x as well when equal score).
            count[3] += nd * (nd - 1.0) / 2.0;
            let mut k = i;
            while k < j {
                let mut l = k;
                while l < j && lp[ord[l]] == lp[ord[k]] {
                    l += 1;
                }
                let c = (l - k) as f64;
                count[4] += c * (c - 1.0) / 2.0;
                k = l;
            }
            for &jj in &ord[i..j] {
                let w = all.split(rk(jj));
                for q in 0..3 {
                    count[q] += w[q];
                    infl[jj][q] += w[q];
                }
                dead.add(rk(jj), 1.0);
            }
            for &jj in &ord[i..j] {
                let [g, s, e] = dead.split(rk(jj));
                infl[jj][0] -= s;
                infl[jj][1] -= g;
                infl[jj][2] -= e;
                all.add(rk(jj), 1.0);
            }
            i = j;
        }
        for &ii in idx {
            let [g, s, e] = dead.split(rk(ii));
            infl[ii][0] += s;
            infl[ii][1] += g;
            infl[ii][2] += e;
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
