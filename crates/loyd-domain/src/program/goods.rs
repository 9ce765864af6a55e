//! Goods filters: which receipt lines a reward, a coupon or a redemption exclusion
//! applies to, compiled to bitmasks over the program's [`Names`].

use std::collections::BTreeSet;

use super::GoodsSpec;

/// The group and SKU names goods filters use, numbered (up to 128) so that filters
/// compile to bitmasks and matching a line is two AND operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    skus: std::collections::HashMap<String, u8, Fnv>,
    groups: std::collections::HashMap<String, u8, Fnv>,
}

/// FNV-1a: every line of every receipt is looked up here, and these short names hash
/// several times faster than with SipHash. Collision attacks need to insert keys, and
/// only the operator's program inserts any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Fnv;

impl std::hash::BuildHasher for Fnv {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

struct FnvHasher(u64);

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Names past this many are matched by string instead of by bit.
const MASK_BITS: usize = 128;

impl Names {
    fn id(&mut self, kind: char, name: &str) -> Option<u8> {
        let next = self.len();
        let map = if kind == 's' { &mut self.skus } else { &mut self.groups };
        if let Some(id) = map.get(name) {
            return Some(*id);
        }
        if next >= MASK_BITS {
            return None;
        }
        let id = u8::try_from(next).ok()?;
        map.insert(name.to_owned(), id);
        Some(id)
    }

    /// How many names have a bit.
    pub fn len(&self) -> usize {
        self.skus.len() + self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bits of a line: its SKU and groups that some filter names.
    pub fn line_mask(&self, sku: &str, groups: &[String]) -> u128 {
        if self.is_empty() {
            return 0;
        }
        let mut mask = self.skus.get(sku).map_or(0, |id| 1u128 << id);
        for g in groups {
            if let Some(id) = self.groups.get(g.as_str()) {
                mask |= 1u128 << id;
            }
        }
        mask
    }
}

/// A compiled goods filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Goods {
    pub groups: BTreeSet<String>,
    pub skus: BTreeSet<String>,
    pub exclude_groups: BTreeSet<String>,
    pub exclude_skus: BTreeSet<String>,
    /// (include, exclude) bits when every name has a bit.
    mask: Option<(u128, u128)>,
}

impl Goods {
    pub(crate) fn compile(g: &GoodsSpec, names: &mut Names) -> Goods {
        let set = |v: &Vec<String>| v.iter().cloned().collect();
        let mut bits = |kind: char, list: &Vec<String>| -> Option<u128> {
            list.iter().try_fold(0u128, |m, n| names.id(kind, n).map(|id| m | 1u128 << id))
        };
        let mask = (|| {
            let include = bits('g', &g.groups)? | bits('s', &g.skus)?;
            let exclude = bits('g', &g.exclude_groups)? | bits('s', &g.exclude_skus)?;
            Some((include, exclude))
        })();
        Goods {
            groups: set(&g.groups),
            skus: set(&g.skus),
            exclude_groups: set(&g.exclude_groups),
            exclude_skus: set(&g.exclude_skus),
            mask,
        }
    }

    /// Whether a line with this SKU and these groups is selected.
    pub fn matches(&self, sku: &str, groups: &[String]) -> bool {
        if self.exclude_skus.contains(sku) || groups.iter().any(|g| self.exclude_groups.contains(g)) {
            return false;
        }
        if self.groups.is_empty() && self.skus.is_empty() {
            return true;
        }
        self.skus.contains(sku) || groups.iter().any(|g| self.groups.contains(g))
    }

    /// The (include, exclude) name bits, when every name the filter uses has one.
    pub fn mask(&self) -> Option<(u128, u128)> {
        self.mask
    }

    /// [`Goods::matches`] for a line whose [`Names::line_mask`] is `mask`.
    #[inline]
    pub fn matches_line(&self, mask: u128, sku: &str, groups: &[String]) -> bool {
        match self.mask {
            Some((include, exclude)) => mask & exclude == 0 && (include == 0 || mask & include != 0),
            None => self.matches(sku, groups),
        }
    }

    /// Whether a line is named by the *exclusion* lists (for "cannot be paid with").
    pub fn excludes(&self, sku: &str, groups: &[String]) -> bool {
        self.exclude_skus.contains(sku) || groups.iter().any(|g| self.exclude_groups.contains(g))
    }
}
