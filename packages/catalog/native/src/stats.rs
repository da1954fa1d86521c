//! Per-column min/max/null count of a written chunk, read back from the Parquet footer the writer
//! produced, as JSON the JS side converts by column type: integers (and dates, timestamps) are
//! decimal strings so 64-bit values survive JSON; floats are numbers (null when not finite); strings
//! are strings; binary and other types have null min/max.

use arrow_schema::{DataType, Schema};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;

#[derive(Clone)]
enum Val {
  I(i128),
  F(f64),
  B(bool),
  S(Vec<u8>),
}

fn less(a: &Val, b: &Val) -> bool {
  match (a, b) {
    (Val::I(x), Val::I(y)) => x < y,
    (Val::F(x), Val::F(y)) => x < y,
    (Val::B(x), Val::B(y)) => !x & y,
    (Val::S(x), Val::S(y)) => x < y,
    _ => false,
  }
}

fn pair(dt: &DataType, s: &Statistics) -> Option<(Val, Val)> {
  use DataType::*;
  match (dt, s) {
    (UInt32, Statistics::Int32(v)) => Some((Val::I(*v.min_opt()? as u32 as i128), Val::I(*v.max_opt()? as u32 as i128))),
    (Int8 | Int16 | Int32 | UInt8 | UInt16 | Date32, Statistics::Int32(v)) => Some((Val::I(*v.min_opt()? as i128), Val::I(*v.max_opt()? as i128))),
    (UInt64, Statistics::Int64(v)) => Some((Val::I(*v.min_opt()? as u64 as i128), Val::I(*v.max_opt()? as u64 as i128))),
    (Int64 | Timestamp(_, _) | Date64, Statistics::Int64(v)) => Some((Val::I(*v.min_opt()? as i128), Val::I(*v.max_opt()? as i128))),
    (Float32, Statistics::Float(v)) => Some((Val::F(*v.min_opt()? as f64), Val::F(*v.max_opt()? as f64))),
    (Float64, Statistics::Double(v)) => Some((Val::F(*v.min_opt()?), Val::F(*v.max_opt()?))),
    (Boolean, Statistics::Boolean(v)) => Some((Val::B(*v.min_opt()?), Val::B(*v.max_opt()?))),
    (Utf8 | LargeUtf8, Statistics::ByteArray(v)) => Some((Val::S(v.min_opt()?.data().to_vec()), Val::S(v.max_opt()?.data().to_vec()))),
    _ => None,
  }
}

fn json_string(out: &mut String, bytes: &[u8]) {
  out.push('"');
  for ch in String::from_utf8_lossy(bytes).chars() {
    match ch {
      '"' => out.push_str("\\\""),
      '\\' => out.push_str("\\\\"),
      c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
      c => out.push(c),
    }
  }
  out.push('"');
}

fn json_val(out: &mut String, v: &Option<Val>) {
  match v {
    None => out.push_str("null"),
    Some(Val::I(i)) => out.push_str(&format!("\"{i}\"")),
    Some(Val::F(f)) if f.is_finite() => out.push_str(&format!("{f:?}")),
    Some(Val::F(_)) => out.push_str("null"),
    Some(Val::B(b)) => out.push_str(if *b { "true" } else { "false" }),
    Some(Val::S(s)) => json_string(out, s),
  }
}

pub fn column_stats_json(schema: &Schema, metadata: &ParquetMetaData) -> String {
  let mut out = String::from("[");
  for (c, field) in schema.fields().iter().enumerate() {
    let mut min: Option<Val> = None;
    let mut max: Option<Val> = None;
    let mut nulls: u64 = 0;
    // Unknown when any row group lacks stats for this column: then min/max stay null (no pruning).
    let mut known = true;
    for rg in metadata.row_groups() {
      let Some(s) = rg.column(c).statistics() else {
        known = false;
        continue;
      };
      nulls += s.null_count_opt().unwrap_or(0);
      match pair(field.data_type(), s) {
        Some((lo, hi)) => {
          if min.as_ref().map_or(true, |m| less(&lo, m)) {
            min = Some(lo);
          }
          if max.as_ref().map_or(true, |m| less(m, &hi)) {
            max = Some(hi);
          }
        }
        // A row group of only nulls has no min/max; that does not make the others unknown.
        None if s.min_bytes_opt().is_none() => {}
        None => known = false,
      }
    }
    if !known {
      min = None;
      max = None;
    }
    if c > 0 {
      out.push(',');
    }
    out.push_str("{\"min\":");
    json_val(&mut out, &min);
    out.push_str(",\"max\":");
    json_val(&mut out, &max);
    out.push_str(&format!(",\"nullCount\":{nulls}}}"));
  }
  out.push(']');
  out
}
