//! A vector that holds its first few items inline: planning an entry of a
//! handful of postings allocates nothing.

/// Up to `N` items inline, more on the heap.
#[derive(Debug, Clone)]
pub(crate) enum SmallVec<T, const N: usize> {
    Inline { items: [T; N], len: usize },
    Heap(Vec<T>),
}

impl<T: Copy + Default, const N: usize> SmallVec<T, N> {
    pub(crate) fn new() -> Self {
        SmallVec::Inline {
            items: [T::default(); N],
            len: 0,
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        match self {
            SmallVec::Inline { items, len } if *len < N => {
                items[*len] = item;
                *len += 1;
            }
            SmallVec::Inline { items, len } => {
                let mut heap = Vec::with_capacity(2 * N);
                heap.extend_from_slice(&items[..*len]);
                heap.push(item);
                *self = SmallVec::Heap(heap);
            }
            SmallVec::Heap(heap) => heap.push(item),
        }
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            SmallVec::Inline { items, len } => &items[..*len],
            SmallVec::Heap(heap) => heap,
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            SmallVec::Inline { items, len } => &mut items[..*len],
            SmallVec::Heap(heap) => heap,
        }
    }

    /// Keeps the items for which `keep` holds, in order.
    pub(crate) fn retain(&mut self, keep: impl Fn(&T) -> bool) {
        match self {
            SmallVec::Inline { items, len } => {
                let mut kept = 0;
                for at in 0..*len {
                    if keep(&items[at]) {
                        items[kept] = items[at];
                        kept += 1;
                    }
                }
                *len = kept;
            }
            SmallVec::Heap(heap) => heap.retain(keep),
        }
    }
}

impl<T: Copy + Default, const N: usize> FromIterator<T> for SmallVec<T, N> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut small = SmallVec::new();
        for item in items {
            small.push(item);
        }
        small
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_spill_to_the_heap_in_order() {
        let mut small: SmallVec<u32, 2> = SmallVec::new();
        for n in 0..5 {
            small.push(n);
            assert_eq!(small.as_slice(), (0..=n).collect::<Vec<_>>());
        }
        small.as_mut_slice()[0] = 9;
        small.retain(|n| n % 2 == 1);
        assert_eq!(small.as_slice(), [9, 1, 3]);
        let mut inline: SmallVec<u32, 4> = [1, 2, 3].into_iter().collect();
        inline.retain(|n| *n != 2);
        assert_eq!(inline.as_slice(), [1, 3]);
        assert!(matches!(inline, SmallVec::Inline { .. }));
    }
}
