//! `Decoder`: one direction of one HTTP/2 connection's header blocks, decoded field by field.
//!
//! It reads the five representations of §6 (indexed, literal with incremental indexing,
//! without indexing, never indexed, dynamic table size update), keeps the dynamic table
//! exactly (every literal with incremental indexing is decoded and stored, whatever the caller
//! wants), and hands each field to a callback, borrowed from the block, the static table, the
//! dynamic table or a scratch buffer: nothing is allocated per field except the copy a new
//! table entry needs. It does not split frames or join CONTINUATIONs: it takes whole header
//! blocks from the frame layer.
//!
//! # Caps
//!
//! Per block at most [`MAX_FIELDS_PER_BLOCK`] fields and [`MAX_DECODED_BYTES_PER_BLOCK`]
//! bytes (name + value + 32 each, the HTTP/2 header-list measure) reach the callback; past
//! either, the rest of the block is still decoded (the table must stay exact) but not handed
//! on, and [`DecodeStats::cut`] counts what was held back. So a small entry referenced
//! thousands of times (an "HPACK bomb") costs time linear in the block and no memory. The
//! dynamic table holds at most [`TABLE_MEMORY_CAP`] bytes whatever the peer allows; what that
//! drops becomes unknown, and is counted in [`Counters`].
//!
//! # Errors
//!
//! A malformed block is a compression error, which ends a real HTTP/2 connection: the
//! decoder then refuses every later block ([`HpackError::Failed`]), and the caller marks the
//! rest of the direction unknown. Fields handed on before the error were decoded correctly.
//!
//! # Leniency
//!
//! A size update in the middle of a block (§4.2 wants it at the start) is applied, not
//! rejected: its effect on the table is unambiguous, and an observer's job is to follow the
//! encoder.

use super::HpackError;
use super::primitive::{self, Str};
use super::static_table::{self, STATIC_LEN};
use super::table::{ENTRY_OVERHEAD, Lookup, NewName, Table};

/// The protocol's initial SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2).
pub const DEFAULT_TABLE_SIZE: u32 = 4096;
/// The most dynamic-table bytes (§4.1 measure) held per decoder, whatever the peer allows.
pub const TABLE_MEMORY_CAP: usize = 64 * 1024;
/// The most field bytes (name + value + 32 each) handed on per header block.
pub const MAX_DECODED_BYTES_PER_BLOCK: usize = 256 * 1024;
/// The most fields handed on per header block.
pub const MAX_FIELDS_PER_BLOCK: usize = 1024;
/// The scratch buffer keeps its memory between blocks up to this capacity.
const SCRATCH_KEEP: usize = 16 * 1024;

/// One decoded header field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// A field whose name and value we know.
    Known { name: &'a [u8], value: &'a [u8] },
    /// A field whose name is in a dynamic table entry we do not know (inserted before the
    /// capture started, or dropped over our memory cap). `index` is the HPACK index it
    /// referred to (≥ 62).
    Unknown { index: usize },
}

/// What one header block held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DecodeStats {
    /// Fields handed to the callback, known or not.
    pub fields: u32,
    /// Of those, the `Field::Unknown` ones.
    pub unknown: u32,
    /// Fields decoded but not handed on, the block being over a per-block cap.
    pub cut: u32,
    /// Entries inserted into the dynamic table.
    pub inserted: u32,
    /// Dynamic table size updates.
    pub size_updates: u32,
}

/// What the decoder's caps did over its life: each bite counted, never logged.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Header blocks with fields held back by a per-block cap.
    pub blocks_cut: u64,
    /// Fields held back by a per-block cap.
    pub fields_cut: u64,
    /// `set_max_allowed` calls above [`TABLE_MEMORY_CAP`]: the peer allows more table than
    /// we hold.
    pub allowed_over_cap: u64,
    /// Size updates to a maximum above [`TABLE_MEMORY_CAP`].
    pub size_updates_over_cap: u64,
    /// Dynamic table entries dropped to stay under [`TABLE_MEMORY_CAP`] (they become unknown).
    pub entries_dropped_over_cap: u64,
}

/// The HPACK decoder for one direction of one connection.
#[derive(Debug)]
pub struct Decoder {
    table: Table,
    /// The largest table the peer's SETTINGS_HEADER_TABLE_SIZE allows; `None` when we never
    /// saw it (mid-stream), so any size update is taken as valid.
    max_allowed: Option<u32>,
    scratch: Vec<u8>,
    failed: Option<HpackError>,
    counters: Counters,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

/// Where a literal's name is.
enum Name {
    Static(&'static [u8]),
    Str(Str),
    Unknown,
}

/// Admission of fields to the callback under the per-block caps. Once one field is held
/// back, all later ones are, so the caller sees a prefix of the block.
struct Budget {
    bytes_left: usize,
    fields_left: usize,
    cut: bool,
}

impl Budget {
    fn admit(&mut self, bytes: usize) -> bool {
        if self.cut || self.fields_left == 0 || bytes > self.bytes_left {
            self.cut = true;
            return false;
        }
        self.fields_left -= 1;
        self.bytes_left -= bytes;
        true
    }
}

impl Decoder {
    /// A decoder for a connection seen from its start: empty table of maximum size 4096,
    /// size updates allowed up to 4096 until [`Decoder::set_max_allowed`] says otherwise.
    pub fn new() -> Decoder {
        Decoder {
            table: Table::new(TABLE_MEMORY_CAP),
            max_allowed: Some(DEFAULT_TABLE_SIZE),
            scratch: Vec::new(),
            failed: None,
            counters: Counters::default(),
        }
    }

    /// A decoder for a connection whose start the capture missed. Its dynamic table holds
    /// entries we never saw: references to them come out as [`Field::Unknown`], until size
    /// updates or evictions prove them all gone (see `table.rs`). Size updates are not
    /// checked against a limit until [`Decoder::set_max_allowed`] is called.
    pub fn mid_stream() -> Decoder {
        Decoder {
            table: Table::mid_stream(TABLE_MEMORY_CAP),
            max_allowed: None,
            ..Decoder::new()
        }
    }

    /// The peer that decodes this direction announced SETTINGS_HEADER_TABLE_SIZE = `size`:
    /// later size updates may go up to it. Call it when the limit takes effect for the
    /// encoder: on the SETTINGS frame for a raise (the encoder cannot use it earlier), and on
    /// its ACK for a cut (blocks sent before the encoder saw it may still use the old limit).
    /// It does not change the table: only a size update in the stream does (§4.2). A value
    /// above [`TABLE_MEMORY_CAP`] is honoured for validity but we never hold more than the
    /// cap; that is counted.
    pub fn set_max_allowed(&mut self, size: u32) {
        if size as usize > TABLE_MEMORY_CAP {
            self.counters.allowed_over_cap += 1;
        }
        self.max_allowed = Some(size);
    }

    /// Why the decoder stopped, if it did: after a compression error every later block is
    /// refused, as the real connection is over.
    pub fn failed(&self) -> Option<HpackError> {
        self.failed
    }

    /// Whether we know every entry of the dynamic table (false mid-stream until proven, or
    /// after our memory cap dropped entries the table still holds).
    pub fn is_table_known(&self) -> bool {
        self.table.is_known()
    }

    /// Bytes (§4.1 measure) the dynamic table holds: at most [`TABLE_MEMORY_CAP`].
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// The encoder's current maximum table size, when known.
    pub fn max_table_size(&self) -> Option<usize> {
        self.table.max_size()
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The dynamic entries we hold, newest first (`None` for a name we never saw).
    #[cfg(test)]
    pub(crate) fn dynamic_entries(&self) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
        (1..=self.table.len())
            .map(|d| match self.table.get(d) {
                Lookup::Known { name, value } => (Some(name.to_vec()), value.to_vec()),
                Lookup::UnknownName { value } => (None, value.to_vec()),
                Lookup::Unknown | Lookup::Invalid => (None, Vec::new()),
            })
            .collect()
    }

    /// Decodes one whole header block (HEADERS or PUSH_PROMISE plus CONTINUATIONs), handing
    /// each field to `each` in order. On error, the fields already handed on stand; the
    /// decoder is then failed for good.
    pub fn decode(
        &mut self,
        block: &[u8],
        mut each: impl FnMut(Field<'_>),
    ) -> Result<DecodeStats, HpackError> {
        if self.failed.is_some() {
            return Err(HpackError::Failed);
        }
        let r = self.decode_block(block, &mut each);
        if self.scratch.capacity() > SCRATCH_KEEP {
            self.scratch = Vec::new();
        }
        match r {
            Ok(stats) => {
                if stats.cut > 0 {
                    self.counters.blocks_cut += 1;
                    self.counters.fields_cut += u64::from(stats.cut);
                }
                Ok(stats)
            }
            Err(e) => {
                self.failed = Some(e);
                Err(e)
            }
        }
    }

    fn decode_block(
        &mut self,
        block: &[u8],
        each: &mut impl FnMut(Field<'_>),
    ) -> Result<DecodeStats, HpackError> {
        let mut stats = DecodeStats::default();
        let mut budget = Budget {
            bytes_left: MAX_DECODED_BYTES_PER_BLOCK,
            fields_left: MAX_FIELDS_PER_BLOCK,
            cut: false,
        };
        let mut pos = 0;
        while let Some(&first) = block.get(pos) {
            if first & 0x80 != 0 {
                // §6.1 Indexed Header Field.
                let (index, next) = primitive::integer(block, pos, 7)?;
                pos = next;
                let index = index as usize;
                let field = match lookup(&self.table, index)? {
                    Lookup::Known { name, value } => Field::Known { name, value },
                    Lookup::UnknownName { .. } | Lookup::Unknown => Field::Unknown { index },
                    Lookup::Invalid => return Err(HpackError::BadIndex),
                };
                emit(field, &mut budget, &mut stats, each);
            } else if first & 0x20 != 0 && first & 0x40 == 0 {
                // §6.3 Dynamic Table Size Update.
                let (size, next) = primitive::integer(block, pos, 5)?;
                pos = next;
                if self.max_allowed.is_some_and(|allowed| size > allowed) {
                    return Err(HpackError::SizeUpdateOutOfBounds);
                }
                if size as usize > TABLE_MEMORY_CAP {
                    self.counters.size_updates_over_cap += 1;
                }
                self.table.set_max_size(size as usize);
                stats.size_updates += 1;
            } else {
                // §6.2 Literal Header Field: with incremental indexing (01, 6-bit prefix),
                // without indexing (0000) or never indexed (0001, 4-bit prefix).
                let indexing = first & 0x40 != 0;
                let prefix = if indexing { 6 } else { 4 };
                pos = self.literal(block, pos, prefix, indexing, &mut budget, &mut stats, each)?;
            }
        }
        Ok(stats)
    }

    #[allow(clippy::too_many_arguments)]
    fn literal(
        &mut self,
        block: &[u8],
        pos: usize,
        prefix: u32,
        indexing: bool,
        budget: &mut Budget,
        stats: &mut DecodeStats,
        each: &mut impl FnMut(Field<'_>),
    ) -> Result<usize, HpackError> {
        self.scratch.clear();
        let (name_index, mut pos) = primitive::integer(block, pos, prefix)?;
        let name_index = name_index as usize;
        let name = if name_index == 0 {
            let (s, next) =
                primitive::string(block, pos, &mut self.scratch, MAX_DECODED_BYTES_PER_BLOCK)?;
            pos = next;
            Name::Str(s)
        } else {
            match lookup(&self.table, name_index)? {
                Lookup::Known { name, .. } => match static_table::get(name_index) {
                    Some((name, _)) => Name::Static(name),
                    None => {
                        // Copied out, since inserting this field may evict the entry it names.
                        let from = self.scratch.len();
                        self.scratch.extend_from_slice(name);
                        Name::Str(Str::Scratch(from..self.scratch.len()))
                    }
                },
                Lookup::UnknownName { .. } | Lookup::Unknown => Name::Unknown,
                Lookup::Invalid => return Err(HpackError::BadIndex),
            }
        };
        let keep = MAX_DECODED_BYTES_PER_BLOCK.saturating_sub(self.scratch.len());
        let (value, pos) = primitive::string(block, pos, &mut self.scratch, keep)?;

        let scratch = &self.scratch[..];
        let value_bytes = value.get(block, scratch);
        let name_bytes = match &name {
            Name::Static(n) => Some(*n),
            Name::Str(s) => s.get(block, scratch),
            Name::Unknown => None,
        };
        match (&name, name_bytes, value_bytes) {
            (Name::Unknown, ..) => emit(Field::Unknown { index: name_index }, budget, stats, each),
            (_, Some(name), Some(value)) => emit(Field::Known { name, value }, budget, stats, each),
            // A string too long to hold: over the per-block cap whatever is left of it.
            _ => {
                budget.cut = true;
                stats.cut += 1;
            }
        }
        if indexing {
            let new_name = match (&name, name_bytes) {
                (Name::Unknown, _) => NewName::Unknown,
                (_, Some(n)) => NewName::Known(n),
                (Name::Str(s), None) => NewName::NotHeld(s.len()),
                (Name::Static(n), None) => NewName::Known(n),
            };
            let ev = self.table.insert(new_name, value_bytes, value.len());
            self.counters.entries_dropped_over_cap += u64::from(ev.dropped_over_cap);
            stats.inserted += 1;
        }
        Ok(pos)
    }
}

/// What HPACK index `index` refers to: static, dynamic, unknown or nothing.
fn lookup(table: &Table, index: usize) -> Result<Lookup<'_>, HpackError> {
    if index == 0 {
        return Err(HpackError::BadIndex);
    }
    if let Some((name, value)) = static_table::get(index) {
        return Ok(Lookup::Known { name, value });
    }
    Ok(table.get(index - STATIC_LEN))
}

/// Hands `field` on if the block's budget admits it; counts it either way.
fn emit(
    field: Field<'_>,
    budget: &mut Budget,
    stats: &mut DecodeStats,
    each: &mut impl FnMut(Field<'_>),
) {
    let bytes = match field {
        Field::Known { name, value } => name.len() + value.len() + ENTRY_OVERHEAD,
        Field::Unknown { .. } => ENTRY_OVERHEAD,
    };
    if !budget.admit(bytes) {
        stats.cut += 1;
        return;
    }
    stats.fields += 1;
    if matches!(field, Field::Unknown { .. }) {
        stats.unknown += 1;
    }
    each(field);
}
