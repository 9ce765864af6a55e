//! Exact allocation: splitting an amount over lines so the parts always sum to the
//! whole. Used for every per-line breakdown (discounts, redemptions, accruals, returns).

/// Splits `total` minor units over `weights` in proportion, exactly (largest remainder
/// method): each part is the floor of its exact share, then the units still missing go
/// one each to the parts with the largest remainders, earlier parts first on ties.
///
/// - the parts always sum to `total`;
/// - with non-negative weights and `0 ≤ total ≤ Σ weights`, no part is negative and no
///   part exceeds its weight;
/// - the result depends only on the inputs (deterministic).
///
/// If every weight is zero the whole amount goes to the first part (there is no
/// proportion to follow); an empty `weights` with a non-zero total cannot be split and
/// panics — callers never allocate to no lines.
pub fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    let mut parts = Vec::with_capacity(weights.len());
    Splitter::default().split_into(total, weights, &mut parts);
    parts
}

/// [`allocate`] with reusable working memory, for callers that split many times per
/// receipt.
#[derive(Debug, Default)]
pub struct Splitter {
    remainders: Vec<(i128, usize)>,
}

impl Splitter {
    /// [`allocate`]: clears `parts` and fills it with the split of `total`.
    pub fn split_into(&mut self, total: i64, weights: &[i64], parts: &mut Vec<i64>) {
        assert!(!weights.is_empty() || total == 0, "cannot allocate {total} to no parts");
        parts.clear();
        let sum: i128 = weights.iter().map(|w| i128::from((*w).max(0))).sum();
        if sum == 0 {
            parts.resize(weights.len(), 0);
            if let Some(first) = parts.first_mut() {
                *first = total;
            }
            return;
        }
        // Each part's floor and remainder in one division: in i64 when the product fits
        // (receipts' figures always do), in i128 otherwise.
        let sum64 = i64::try_from(sum).ok();
        let remainders = &mut self.remainders;
        remainders.clear();
        let mut given: i128 = 0;
        for (i, w) in weights.iter().enumerate() {
            let w = (*w).max(0);
            let (part, rem) = match (total.checked_mul(w), sum64) {
                // A non-negative product: `/` and `%` are the Euclidean ones, one division.
                (Some(p), Some(s)) if p >= 0 => (i128::from(p / s), i128::from(p % s)),
                (Some(p), Some(s)) => (i128::from(p.div_euclid(s)), i128::from(p.rem_euclid(s))),
                _ => {
                    let p = i128::from(total) * i128::from(w);
                    (p.div_euclid(sum), p.rem_euclid(sum))
                }
            };
            parts.push(i64::try_from(part).expect("a part never exceeds the total"));
            remainders.push((rem, i));
            given += part;
        }
        let missing = usize::try_from(i128::from(total) - given).expect("floors never overshoot");
        if missing == 0 {
            return;
        }
        // Largest remainder first; on equal remainders the earlier part.
        let order = |a: &(i128, usize), b: &(i128, usize)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        if missing == 1 {
            // The usual case: one unit to place, no need to sort.
            let first = remainders.iter().min_by(|a, b| order(a, b)).expect("parts to place it in");
            parts[first.1] += 1;
            return;
        }
        remainders.sort_unstable_by(order);
        for &(_, i) in remainders.iter().take(missing) {
            parts[i] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn remainders_go_to_the_largest_fractions_then_to_earlier_lines() {
        assert_eq!(allocate(900, &[1000, 2000]), vec![300, 600]);
        assert_eq!(allocate(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(allocate(2, &[1, 1, 1]), vec![1, 1, 0]);
        assert_eq!(allocate(10, &[3, 3, 4]), vec![3, 3, 4]);
        assert_eq!(allocate(5, &[0, 0]), vec![5, 0]);
        assert_eq!(allocate(0, &[]), Vec::<i64>::new());
    }

    proptest! {
        #[test]
        fn parts_sum_to_the_total_and_stay_within_their_weights(
            weights in proptest::collection::vec(0i64..1_000_000, 1..60),
            per_mille in 0i64..=1000,
        ) {
            let sum: i64 = weights.iter().sum();
            // A total between 0 and the sum of the weights.
            let total = sum * per_mille / 1000;
            let parts = allocate(total, &weights);
            prop_assert_eq!(parts.iter().sum::<i64>(), total);
            for (p, w) in parts.iter().zip(&weights) {
                prop_assert!(*p >= 0 && (sum == 0 || *p <= *w), "part {} weight {}", p, w);
            }
            prop_assert_eq!(allocate(total, &weights), parts.clone());
            // A reused splitter gives the same parts.
            let (mut splitter, mut again) = (Splitter::default(), vec![7; 3]);
            splitter.split_into(total / 2, &weights, &mut again);
            splitter.split_into(total, &weights, &mut again);
            prop_assert_eq!(again, parts);
        }

        /// A discount split over receipt lines of any size — up to the largest total a
        /// receipt may have (`i64::MAX / 4`), many lines left at zero — is given out
        /// exactly: the parts sum to the discount, none is negative, none is more than
        /// its line.
        #[test]
        fn allocated_parts_sum_to_the_discount_and_none_is_negative(
            lines in proptest::collection::vec(
                prop_oneof![
                    3 => Just(0i64),
                    4 => 0i64..10_000,
                    2 => 0i64..i64::MAX / 160,
                ],
                1..40,
            ),
            numerator in prop_oneof![1 => Just(0u64), 1 => Just(u64::MAX), 6 => any::<u64>()],
        ) {
            let total: i64 = lines.iter().sum();
            prop_assume!(total <= i64::MAX / 4);
            // Any discount from 0 to the total, both ends included.
            let discount = i64::try_from(i128::from(total) * i128::from(numerator) / i128::from(u64::MAX)).unwrap();
            let parts = allocate(discount, &lines);
            prop_assert_eq!(parts.len(), lines.len());
            prop_assert_eq!(parts.iter().sum::<i64>(), discount);
            for (p, amount) in parts.iter().zip(&lines) {
                prop_assert!(*p >= 0, "part {} of line {}", p, amount);
                prop_assert!(total == 0 || *p <= *amount, "part {} of line {}", p, amount);
            }
        }
    }
}
