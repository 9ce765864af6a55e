//! Sets of receipt lines as bits, and the index that answers "which lines are these
//! goods" with a few word operations instead of a test per line.
//!
//! A program numbers the group and SKU names its filters use ([`crate::program::Names`]);
//! per receipt, [`LineIndex`] keeps for each name the set of lines that carry it. The
//! lines of a filter are then the union of its included names' sets, less its excluded
//! names' sets. Filters whose names could not all be numbered fall back to testing
//! each line.

use crate::program::Goods;
use crate::receipt::Receipt;

/// Receipts up to this many lines keep their line sets inline, without allocating.
const INLINE_WORDS: usize = 4;

/// A set of line indexes.
#[derive(Debug, Clone)]
pub(super) struct LineSet {
    len: usize,
    inline: [u64; INLINE_WORDS],
    heap: Vec<u64>,
}

fn words_for(len: usize) -> usize {
    len.div_ceil(64)
}

impl LineSet {
    pub fn empty(len: usize) -> LineSet {
        let words = words_for(len);
        LineSet { len, inline: [0; INLINE_WORDS], heap: if words > INLINE_WORDS { vec![0; words] } else { Vec::new() } }
    }

    pub fn all(len: usize) -> LineSet {
        let mut set = LineSet::empty(len);
        for i in 0..len {
            set.insert(i);
        }
        set
    }

    fn words(&self) -> &[u64] {
        let n = words_for(self.len);
        if n > INLINE_WORDS { &self.heap } else { &self.inline[..n] }
    }

    fn words_mut(&mut self) -> &mut [u64] {
        let n = words_for(self.len);
        if n > INLINE_WORDS { &mut self.heap } else { &mut self.inline[..n] }
    }

    pub fn insert(&mut self, i: usize) {
        self.words_mut()[i / 64] |= 1 << (i % 64);
    }

    fn union_words(&mut self, other: &[u64]) {
        for (a, b) in self.words_mut().iter_mut().zip(other) {
            *a |= b;
        }
    }

    fn remove_words(&mut self, other: &[u64]) {
        for (a, b) in self.words_mut().iter_mut().zip(other) {
            *a &= !b;
        }
    }

    /// Adds the lines of `other` to this set.
    pub fn union(&mut self, other: &LineSet) {
        self.union_words(other.words());
    }

    /// Removes the lines of `other` from this set.
    pub fn remove_all(&mut self, other: &LineSet) {
        self.remove_words(other.words());
    }

    /// The lines in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words().iter().enumerate().flat_map(|(k, &word)| {
            let mut w = word;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(k * 64 + bit)
            })
        })
    }
}

/// For each numbered name, the lines of a receipt that carry it.
pub(super) struct LineIndex {
    len: usize,
    words: usize,
    /// `names × words` words: name `b`'s lines are `by_name[b * words..][..words]`.
    by_name: Vec<u64>,
    /// Each line's name bits.
    masks: Vec<u128>,
}

impl LineIndex {
    pub fn new(receipt: &Receipt, names: &crate::program::Names) -> LineIndex {
        let len = receipt.lines.len();
        let words = words_for(len);
        let masks: Vec<u128> = receipt.lines.iter().map(|l| names.line_mask(&l.sku, &l.groups)).collect();
        let mut by_name = vec![0u64; names.len() * words];
        for (i, &mask) in masks.iter().enumerate() {
            let mut m = mask;
            while m != 0 {
                let b = m.trailing_zeros() as usize;
                m &= m - 1;
                by_name[b * words + i / 64] |= 1 << (i % 64);
            }
        }
        LineIndex { len, words, by_name, masks }
    }

    fn name(&self, b: usize) -> &[u64] {
        &self.by_name[b * self.words..][..self.words]
    }

    /// The lines of `goods`.
    pub fn lines_of(&self, goods: &Goods, receipt: &Receipt) -> LineSet {
        match goods.mask() {
            Some((include, exclude)) => {
                let mut set = if include == 0 { LineSet::all(self.len) } else { LineSet::empty(self.len) };
                let mut bits = include;
                while bits != 0 {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    set.union_words(self.name(b));
                }
                let mut bits = exclude;
                while bits != 0 {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    set.remove_words(self.name(b));
                }
                set
            }
            None => {
                let mut set = LineSet::empty(self.len);
                for (i, l) in receipt.lines.iter().enumerate() {
                    if goods.matches_line(self.masks[i], &l.sku, &l.groups) {
                        set.insert(i);
                    }
                }
                set
            }
        }
    }

}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_set_lists_its_lines_in_order_across_words() {
        for len in [1, 63, 64, 65, 256, 257, 1000] {
            let mut set = LineSet::empty(len);
            let wanted: Vec<usize> = (0..len).filter(|i| i % 3 == 0 || *i == len - 1).collect();
            for &i in &wanted {
                set.insert(i);
            }
            assert_eq!(set.iter().collect::<Vec<_>>(), wanted, "{len} lines");
            assert_eq!(LineSet::all(len).iter().count(), len);
            let mut rest = LineSet::all(len);
            rest.remove_all(&set);
            assert_eq!(rest.iter().count(), len - wanted.len());
            assert!(rest.iter().all(|i| !wanted.contains(&i)));
            rest.union(&set);
            assert_eq!(rest.iter().count(), len);
        }
    }
}
