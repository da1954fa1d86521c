//! Per-layout column encodings. Delta chunks hold scattered changed rows: keys with gaps, near-unique
//! strings, few rows per chunk, where dictionaries only add a page and plain values compress poorly.
//! Parquet's delta encodings store the differences between neighbouring values (sorted keys, close
//! timestamps) and shared string prefixes instead, which zstd then packs better.
//!
//! Base chunks use dictionary pages (low-cardinality columns stay there) with two exceptions, both
//! measured on the peers bench's 1M orders rows in 64K-row chunks (FORMAT.md):
//! - the columns the rows are sorted by (a keyed table's primary key) are delta-encoded without a
//!   dictionary: a sorted int64 key takes ~0.01 MiB instead of ~1.2 MiB;
//! - other integer, date and timestamp columns fall back to DELTA_BINARY_PACKED instead of plain once
//!   their dictionary page is full: random ids over 100K values 3.1 -> 2.2 MiB.
//! Floats and strings still fall back to plain (BYTE_STREAM_SPLIT made the bench's prices larger).

use arrow_schema::{DataType, Schema};
use parquet::basic::Encoding;
use parquet::file::properties::WriterPropertiesBuilder;
use parquet::schema::types::ColumnPath;

/// How a chunk's columns are encoded: part of the chunk bytes, so chosen explicitly by the caller.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Layout {
  Base,
  Delta,
}

impl Layout {
  pub fn parse(name: Option<&str>) -> Result<Layout, String> {
    match name.unwrap_or("base") {
      "base" => Ok(Layout::Base),
      "delta" => Ok(Layout::Delta),
      other => Err(format!("unknown layout {other}")),
    }
  }
}

/// The encoding of one column of a delta chunk (None: plain, for floats and booleans). Measured on the
/// bench's scattered rows (catalog README): DELTA_BYTE_ARRAY beats DELTA_LENGTH_BYTE_ARRAY for strings,
/// and BYTE_STREAM_SPLIT for floats makes scattered deltas larger, so floats stay plain.
fn delta_encoding(dt: &DataType) -> Option<Encoding> {
  match dt {
    DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Some(Encoding::DELTA_BINARY_PACKED),
    DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => Some(Encoding::DELTA_BINARY_PACKED),
    DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => Some(Encoding::DELTA_BINARY_PACKED),
    DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary => Some(Encoding::DELTA_BYTE_ARRAY),
    _ => None,
  }
}

/// Dictionary page limit of numeric base columns: 2,048 int64 or 4,096 int32 values. The rows written
/// before a dictionary overflows stay dictionary-encoded, which for high-cardinality numbers costs more
/// than their fallback; the codec's 64 KiB default overflowed only after ~9K of a chunk's rows.
const NUMERIC_DICTIONARY_BYTES: usize = 16 * 1024;

fn is_integer_like(dt: &DataType) -> bool {
  matches!(delta_encoding(dt), Some(Encoding::DELTA_BINARY_PACKED))
}

/// Adds the layout's encodings to a writer configuration. `sorted`: the columns the rows are sorted by
/// (base layout only). Every setting is explicit, so a crate upgrade changing a default cannot silently
/// change chunk hashes.
pub fn apply(layout: Layout, schema: &Schema, sorted: &[String], mut builder: WriterPropertiesBuilder) -> WriterPropertiesBuilder {
  if layout == Layout::Base {
    builder = builder.set_dictionary_enabled(true).set_encoding(Encoding::PLAIN);
    for f in schema.fields() {
      let path = ColumnPath::new(vec![f.name().clone()]);
      if sorted.iter().any(|s| s == f.name()) {
        if let Some(enc) = delta_encoding(f.data_type()) {
          builder = builder.set_column_dictionary_enabled(path.clone(), false).set_column_encoding(path, enc);
        }
      } else if is_integer_like(f.data_type()) {
        // With the dictionary enabled, a column's encoding is its fallback.
        builder = builder
          .set_column_dictionary_page_size_limit(path.clone(), NUMERIC_DICTIONARY_BYTES)
          .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
      } else if matches!(f.data_type(), DataType::Float32 | DataType::Float64) {
        builder = builder.set_column_dictionary_page_size_limit(path, NUMERIC_DICTIONARY_BYTES);
      }
    }
    return builder;
  }
  builder = builder.set_dictionary_enabled(false).set_encoding(Encoding::PLAIN);
  for f in schema.fields() {
    if let Some(enc) = delta_encoding(f.data_type()) {
      builder = builder.set_column_encoding(ColumnPath::new(vec![f.name().clone()]), enc);
    }
  }
  builder
}
