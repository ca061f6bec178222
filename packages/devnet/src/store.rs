//! The chain's key-value store: committed state plus a stack of write layers, so that a
//! transaction, and each submessage inside it, can be committed or rolled back as the SDK's
//! cache contexts are.

use std::collections::BTreeMap;
use std::ops::Bound;

use cosmwasm_std::Order;

type Layer = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

#[derive(Default)]
pub struct KvStore {
    base: BTreeMap<Vec<u8>, Vec<u8>>,
    layers: Vec<Layer>,
}

impl KvStore {
    pub fn from_base(base: BTreeMap<Vec<u8>, Vec<u8>>) -> Self {
        KvStore {
            base,
            layers: vec![],
        }
    }

    pub fn base(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.base
    }

    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        for layer in self.layers.iter().rev() {
            if let Some(v) = layer.get(key) {
                return v.clone();
            }
        }
        self.base.get(key).cloned()
    }

    pub fn set(&mut self, key: &[u8], value: &[u8]) {
        match self.layers.last_mut() {
            Some(layer) => {
                layer.insert(key.to_vec(), Some(value.to_vec()));
            }
            None => {
                self.base.insert(key.to_vec(), value.to_vec());
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) {
        match self.layers.last_mut() {
            Some(layer) => {
                layer.insert(key.to_vec(), None);
            }
            None => {
                self.base.remove(key);
            }
        }
    }

    /// Starts a write layer (a cache context).
    pub fn begin(&mut self) {
        self.layers.push(Layer::new());
    }

    /// Folds the top layer into the one below it (or into committed state), returning what it
    /// changed.
    pub fn commit(&mut self) -> Layer {
        let top = self.layers.pop().unwrap_or_default();
        match self.layers.last_mut() {
            Some(below) => below.extend(top.clone()),
            None => {
                for (k, v) in &top {
                    match v {
                        Some(v) => self.base.insert(k.clone(), v.clone()),
                        None => self.base.remove(k),
                    };
                }
            }
        }
        top
    }

    /// Drops the top layer and everything written in it.
    pub fn rollback(&mut self) {
        self.layers.pop();
    }

    /// The first live entry in the range, in the given order, seen through every layer.
    pub fn first_in(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        order: Order,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut lower: Bound<Vec<u8>> = lower.map(<[u8]>::to_vec);
        let mut upper: Bound<Vec<u8>> = upper.map(<[u8]>::to_vec);
        loop {
            if empty_range(&lower, &upper) {
                return None;
            }
            let range = (as_ref(&lower), as_ref(&upper));
            let mut best: Option<Vec<u8>> = None;
            let mut consider = |k: &Vec<u8>| {
                let better = match (&best, order) {
                    (None, _) => true,
                    (Some(b), Order::Ascending) => k < b,
                    (Some(b), Order::Descending) => k > b,
                };
                if better {
                    best = Some(k.clone());
                }
            };
            let pick = |mut it: std::collections::btree_map::Range<'_, Vec<u8>, _>| match order {
                Order::Ascending => it.next().map(|(k, _)| k.clone()),
                Order::Descending => it.next_back().map(|(k, _)| k.clone()),
            };
            if let Some(k) = pick_base(&self.base, range, order) {
                consider(&k);
            }
            for layer in &self.layers {
                if let Some(k) = pick(layer.range::<[u8], _>(range)) {
                    consider(&k);
                }
            }
            let key = best?;
            if let Some(value) = self.get(&key) {
                return Some((key, value));
            }
            // A deleted key: step past it.
            match order {
                Order::Ascending => lower = Bound::Excluded(key),
                Order::Descending => upper = Bound::Excluded(key),
            }
        }
    }
}

/// Entries under `prefix`, in key order, from `prefix ‖ start` on: at most `limit` of them (key
/// suffixes and values), and the suffix to continue from when more remain.
pub type PrefixPage = (Vec<(Vec<u8>, Vec<u8>)>, Option<Vec<u8>>);

impl KvStore {
    pub fn prefix_page(&self, prefix: &[u8], start: &[u8], limit: usize) -> PrefixPage {
        let end = prefix_end(prefix);
        let upper = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let mut lower = Bound::Included([prefix, start].concat());
        let mut out = vec![];
        while let Some((k, v)) = self.first_in(as_ref(&lower), upper, Order::Ascending) {
            let suffix = k[prefix.len()..].to_vec();
            if out.len() == limit {
                return (out, Some(suffix));
            }
            out.push((suffix, v));
            lower = Bound::Excluded(k);
        }
        (out, None)
    }
}

/// The smallest key after every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn pick_base(
    base: &BTreeMap<Vec<u8>, Vec<u8>>,
    range: (Bound<&[u8]>, Bound<&[u8]>),
    order: Order,
) -> Option<Vec<u8>> {
    let mut it = base.range::<[u8], _>(range);
    match order {
        Order::Ascending => it.next().map(|(k, _)| k.clone()),
        Order::Descending => it.next_back().map(|(k, _)| k.clone()),
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// BTreeMap::range panics on inverted ranges; the VM's contract is that they are empty.
fn empty_range(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u))
        | (Bound::Excluded(l), Bound::Excluded(u)) => l >= u,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(s: &KvStore, order: Order) -> Vec<Vec<u8>> {
        let mut out = vec![];
        let (mut lower, mut upper) = (Bound::Unbounded, Bound::Unbounded);
        while let Some((k, _)) = s.first_in(as_ref(&lower), as_ref(&upper), order) {
            out.push(k.clone());
            match order {
                Order::Ascending => lower = Bound::Excluded(k),
                Order::Descending => upper = Bound::Excluded(k),
            }
        }
        out
    }

    #[test]
    fn layers_shadow_commit_and_roll_back() {
        let mut s = KvStore::default();
        s.set(b"a", b"1");
        s.set(b"c", b"3");
        s.begin();
        s.set(b"b", b"2");
        s.remove(b"a");
        assert_eq!(
            collect(&s, Order::Ascending),
            vec![b"b".to_vec(), b"c".to_vec()]
        );
        assert_eq!(
            collect(&s, Order::Descending),
            vec![b"c".to_vec(), b"b".to_vec()]
        );
        s.begin();
        s.set(b"a", b"again");
        s.rollback();
        assert_eq!(s.get(b"a"), None);
        s.commit();
        assert_eq!(s.depth(), 0);
        assert_eq!(s.get(b"a"), None);
        assert_eq!(s.get(b"b"), Some(b"2".to_vec()));
    }

    #[test]
    fn prefix_end_carries() {
        assert_eq!(prefix_end(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff]), None);
    }

    #[test]
    fn prefix_pages_continue_where_they_stopped() {
        let mut s = KvStore::default();
        for k in [&b"a1"[..], b"b1", b"b2", b"b3", b"c1"] {
            s.set(k, b"v");
        }
        let (first, next) = s.prefix_page(b"b", b"", 2);
        assert_eq!(
            first.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            vec![b"1".to_vec(), b"2".to_vec()]
        );
        assert_eq!(next, Some(b"3".to_vec()));
        let (rest, next) = s.prefix_page(b"b", b"3", 2);
        assert_eq!(rest.len(), 1);
        assert_eq!(next, None);
    }

    #[test]
    fn inverted_ranges_are_empty() {
        let mut s = KvStore::default();
        s.set(b"a", b"1");
        assert!(s
            .first_in(
                Bound::Included(b"b"),
                Bound::Excluded(b"a"),
                Order::Ascending
            )
            .is_none());
    }
}
