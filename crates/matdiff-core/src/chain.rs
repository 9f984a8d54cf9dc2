//! Matrix-chain ordering: the cheapest parenthesization of a product F₁⋯Fₖ, shared by the
//! reference evaluator, the compiled planner and the derivation's forward graph.

/// The result of [`chain_order`]: the cheapest cost and where to split each sub-chain.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainOrder {
    /// Multiply-adds of the best order for the whole chain (sub-chains marked free cost 0).
    pub cost: f64,
    /// `split[i][j]` = s: the sub-chain Fᵢ⋯Fⱼ is computed as (Fᵢ⋯Fₛ)(Fₛ₊₁⋯Fⱼ).
    pub split: Vec<Vec<usize>>,
}

/// The classic O(k³) dynamic programme over `dims` (k + 1 sizes: the rows of each of the k factors,
/// then the columns of the last). `free(i, j)` marks sub-chains Fᵢ⋯Fⱼ that are already computed
/// and cost nothing (the planner shares sub-chains across chains). Ties split after the first
/// factor, so the order is deterministic.
///
/// ```
/// use matdiff_core::chain_order;
/// // (10×100)(100×5)(5×50): multiplying the first pair first costs 5,000 + 2,500.
/// let order = chain_order(&[10.0, 100.0, 5.0, 50.0], |_, _| false);
/// assert_eq!(order.split[0][2], 1);
/// assert_eq!(order.cost, 7500.0);
/// ```
pub fn chain_order(dims: &[f64], free: impl Fn(usize, usize) -> bool) -> ChainOrder {
    let k = dims.len().saturating_sub(1);
    let mut cost = vec![vec![0f64; k]; k];
    let mut split = vec![vec![0usize; k]; k];
    for len in 2..=k {
        for i in 0..=k - len {
            let j = i + len - 1;
            if free(i, j) {
                continue;
            }
            cost[i][j] = f64::INFINITY;
            for s in i..j {
                let c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1];
                if c < cost[i][j] {
                    cost[i][j] = c;
                    split[i][j] = s;
                }
            }
        }
    }
    let total = if k == 0 { 0.0 } else { cost[0][k - 1] };
    ChainOrder { cost: total, split }
}

#[cfg(test)]
mod tests {
    use super::chain_order;

    /// Brute force over every parenthesization, for comparison.
    fn best(dims: &[f64], i: usize, j: usize) -> f64 {
        if i == j {
            return 0.0;
        }
        (i..j)
            .map(|s| best(dims, i, s) + best(dims, s + 1, j) + dims[i] * dims[s + 1] * dims[j + 1])
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn matches_brute_force_on_small_chains() {
        let cases: [&[f64]; 5] = [
            &[1.0, 2.0],
            &[3.0, 1.0, 3.0],
            &[30.0, 35.0, 15.0, 5.0, 10.0, 20.0, 25.0],
            &[1.0, 8.0, 8.0, 1.0],
            &[8.0, 1.0, 8.0, 8.0, 1.0],
        ];
        for dims in cases {
            let k = dims.len() - 1;
            assert_eq!(chain_order(dims, |_, _| false).cost, best(dims, 0, k - 1), "{dims:?}");
        }
    }

    #[test]
    fn free_sub_chains_cost_nothing() {
        let dims = [10.0, 100.0, 5.0, 50.0];
        // F₁F₂ is already computed: only (F₁F₂)·F₃ remains, 10·5·50.
        let order = chain_order(&dims, |i, j| (i, j) == (0, 1));
        assert_eq!((order.cost, order.split[0][2]), (2500.0, 1));
    }
}
