//! Per-layout column encodings. Base chunks keep arrow-rs's dictionary-then-plain encodings (their
//! bytes are frozen by the golden hashes). Delta chunks hold scattered changed rows: keys with gaps,
//! near-unique strings, few rows per chunk, where dictionaries only add a page and plain values
//! compress poorly. Parquet's delta encodings store the differences between neighbouring values
//! (sorted keys, close timestamps) and shared string prefixes instead, which zstd then packs better.

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

/// Adds the layout's encodings to a writer configuration. Every setting is explicit, so a crate
/// upgrade changing a default cannot silently change delta chunk hashes either.
pub fn apply(layout: Layout, schema: &Schema, mut builder: WriterPropertiesBuilder) -> WriterPropertiesBuilder {
  if layout == Layout::Base {
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
