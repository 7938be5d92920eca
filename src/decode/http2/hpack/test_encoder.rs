//! A small HPACK encoder for tests only: it writes whichever representation it is told to
//! (including ones a real encoder would not pick) and keeps its own dynamic table by the
//! RFC's rules, so tests can build blocks whose decoding they know.

use std::collections::VecDeque;

use super::huffman;
use super::static_table::STATIC_TABLE;

/// How a literal is indexed (§6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexing {
    Incremental,
    Without,
    Never,
}

#[derive(Debug)]
pub struct TestEncoder {
    table: VecDeque<(Vec<u8>, Vec<u8>)>,
    size: usize,
    max: usize,
}

/// Appends an integer with a `prefix`-bit prefix; `flags` are the bits above it.
pub fn integer(out: &mut Vec<u8>, flags: u8, prefix: u32, value: usize) {
    let max = (1usize << prefix) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// Appends a string literal, Huffman-coded or raw.
pub fn string(out: &mut Vec<u8>, s: &[u8], huffman_coded: bool) {
    if huffman_coded {
        let mut enc = Vec::new();
        huffman::encode(s, &mut enc);
        integer(out, 0x80, 7, enc.len());
        out.extend_from_slice(&enc);
    } else {
        integer(out, 0, 7, s.len());
        out.extend_from_slice(s);
    }
}

impl TestEncoder {
    pub fn new() -> TestEncoder {
        TestEncoder {
            table: VecDeque::new(),
            size: 0,
            max: 4096,
        }
    }

    pub fn size_update(&mut self, out: &mut Vec<u8>, max: usize) {
        integer(out, 0x20, 5, max);
        self.max = max;
        self.evict(max);
    }

    fn evict(&mut self, bound: usize) {
        while self.size > bound {
            let Some((n, v)) = self.table.pop_back() else {
                break;
            };
            self.size -= n.len() + v.len() + 32;
        }
    }

    fn insert(&mut self, name: &[u8], value: &[u8]) {
        let s = name.len() + value.len() + 32;
        if s > self.max {
            self.table.clear();
            self.size = 0;
            return;
        }
        self.evict(self.max - s);
        self.table.push_front((name.to_vec(), value.to_vec()));
        self.size += s;
    }

    /// The HPACK index of an exact match and of a name match, if any.
    pub fn find(&self, name: &[u8], value: &[u8]) -> (Option<usize>, Option<usize>) {
        let all = STATIC_TABLE
            .iter()
            .map(|&(n, v)| (n, v))
            .chain(self.table.iter().map(|(n, v)| (&n[..], &v[..])));
        let mut exact = None;
        let mut by_name = None;
        for (i, (n, v)) in all.enumerate() {
            if n == name {
                by_name = by_name.or(Some(i + 1));
                if v == value {
                    exact = exact.or(Some(i + 1));
                }
            }
        }
        (exact, by_name)
    }

    pub fn indexed(&mut self, out: &mut Vec<u8>, index: usize) {
        integer(out, 0x80, 7, index);
    }

    /// A literal; `name_index` 0 means a literal name.
    pub fn literal(
        &mut self,
        out: &mut Vec<u8>,
        name_index: usize,
        name: &[u8],
        value: &[u8],
        indexing: Indexing,
        huffman_coded: (bool, bool),
    ) {
        let (flags, prefix) = match indexing {
            Indexing::Incremental => (0x40, 6),
            Indexing::Without => (0x00, 4),
            Indexing::Never => (0x10, 4),
        };
        integer(out, flags, prefix, name_index);
        if name_index == 0 {
            string(out, name, huffman_coded.0);
        }
        string(out, value, huffman_coded.1);
        if indexing == Indexing::Incremental {
            self.insert(name, value);
        }
    }

    /// Encodes one field, the representation picked by the bits of `choice`.
    pub fn field(&mut self, out: &mut Vec<u8>, name: &[u8], value: &[u8], choice: u8) {
        let (exact, by_name) = self.find(name, value);
        if let (Some(i), true) = (exact, choice & 1 == 0) {
            self.indexed(out, i);
            return;
        }
        let name_index = if choice & 2 == 0 {
            by_name.unwrap_or(0)
        } else {
            0
        };
        let indexing = match (choice >> 2) % 4 {
            0 | 1 => Indexing::Incremental,
            2 => Indexing::Without,
            _ => Indexing::Never,
        };
        let huffman_coded = (choice & 16 != 0, choice & 32 != 0);
        self.literal(out, name_index, name, value, indexing, huffman_coded);
    }
}
