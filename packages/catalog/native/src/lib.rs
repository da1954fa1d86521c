//! Deterministic Parquet codec for the Armillaria table format.
//!
//! JS hands over rows as Arrow IPC streams (or existing Parquet chunks), plus an optional row order
//! ("picks") and the chunk boundaries it computed; this crate materialises each chunk, writes it as
//! Parquet with one fixed writer configuration and returns the bytes with per-column statistics.
//! The same rows always give the same bytes: no timestamps, random ids or version-dependent
//! `created_by`, and a normalised schema (every field nullable, no metadata) whatever the source.

mod layout;
mod stats;

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{make_array, Array, ArrayRef, RecordBatch, RecordBatchReader};
use arrow_data::transform::MutableArrayData;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use arrow_select::{concat::concat_batches, interleave::interleave};
use bytes::Bytes;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};

/// Fixed on purpose: a `created_by` naming the crate version would change every chunk hash on upgrade.
const CREATED_BY: &str = "armillaria table-format 1";
const PARQUET_MAGIC: &[u8] = b"PAR1";

fn err<E: std::fmt::Display>(context: &str) -> impl FnOnce(E) -> Error + '_ {
  move |e| Error::new(Status::InvalidArg, format!("{context}: {e}"))
}

#[napi(object)]
pub struct EncodeOptions {
  /// `zstd` (level 1, default), `snappy` or `none`.
  pub compression: Option<String>,
  /// Rows per row group (default 1,048,576: one row group per chunk in practice).
  pub row_group_rows: Option<u32>,
  /// `base` (default: dictionaries, then plain; integers, dates and timestamps then DELTA_BINARY_PACKED;
  /// sorted columns delta-encoded) or `delta` (no dictionaries; DELTA_BINARY_PACKED for integers, dates
  /// and timestamps, DELTA_BYTE_ARRAY for strings and binary; see layout.rs).
  pub layout: Option<String>,
  /// Base layout: the columns the rows are sorted by (a keyed table's primary key), delta-encoded
  /// without a dictionary (see layout.rs).
  pub sorted_columns: Option<Vec<String>>,
}

#[napi(object)]
pub struct EncodedChunk {
  pub bytes: Buffer,
  pub rows: u32,
  /// JSON array, one `{min,max,nullCount}` per column; integers as decimal strings (see stats.rs).
  pub stats: String,
}

fn writer_props(opts: &EncodeOptions, schema: &Schema) -> Result<WriterProperties> {
  let layout = layout::Layout::parse(opts.layout.as_deref()).map_err(|e| Error::new(Status::InvalidArg, e))?;
  let compression = match opts.compression.as_deref().unwrap_or("zstd") {
    "zstd" => Compression::ZSTD(ZstdLevel::try_new(1).map_err(err("zstd level"))?),
    "snappy" => Compression::SNAPPY,
    "none" => Compression::UNCOMPRESSED,
    other => return Err(Error::new(Status::InvalidArg, format!("unknown compression {other}"))),
  };
  // Every knob that influences the bytes is set explicitly, so a crate upgrade changing a default
  // does not silently change chunk hashes.
  let builder = WriterProperties::builder()
    .set_created_by(CREATED_BY.to_string())
    .set_writer_version(WriterVersion::PARQUET_1_0)
    .set_compression(compression)
    .set_max_row_group_row_count(Some(opts.row_group_rows.unwrap_or(1 << 20) as usize))
    .set_data_page_size_limit(1024 * 1024)
    // Small on purpose: unique-ish strings fall back to plain early, which zstd packs 2x better than
    // dictionary indices (bench/parquet-encoders.bench.ts); low-cardinality columns stay dictionary-encoded.
    .set_dictionary_page_size_limit(64 * 1024)
    .set_write_batch_size(1024)
    .set_statistics_enabled(EnabledStatistics::Chunk)
    .set_statistics_truncate_length(None)
    .set_key_value_metadata(None);
  let sorted = opts.sorted_columns.as_deref().unwrap_or(&[]);
  Ok(layout::apply(layout, schema, sorted, builder).build())
}

/// Dictionary columns (Arrow JS builds them for strings) are stored as their plain value type.
fn plain_type(dt: &DataType) -> DataType {
  match dt {
    DataType::Dictionary(_, value) => value.as_ref().clone(),
    other => other.clone(),
  }
}

/// Every field nullable, no metadata, no dictionaries: rows from JS and rows decoded from Parquet
/// encode identically.
fn normalise_schema(schema: &Schema) -> SchemaRef {
  let fields: Vec<Field> = schema
    .fields()
    .iter()
    .map(|f| Field::new(f.name(), plain_type(f.data_type()), true))
    .collect();
  Arc::new(Schema::new(fields))
}

/// Bytes a task reads: a JS buffer held for the task (not copied on the JS thread; JS does not touch it
/// while the task runs), or owned bytes (tests).
pub enum HeldBytes {
  Js(Buffer),
  Owned(Vec<u8>),
}

impl AsRef<[u8]> for HeldBytes {
  fn as_ref(&self) -> &[u8] {
    match self {
      HeldBytes::Js(b) => b.as_ref(),
      HeldBytes::Owned(v) => v.as_slice(),
    }
  }
}

impl From<Vec<u8>> for HeldBytes {
  fn from(v: Vec<u8>) -> Self {
    HeldBytes::Owned(v)
  }
}

/// A source of rows: an Arrow IPC stream or Parquet file (empty: a placeholder no pick uses), or Arrow
/// columns handed over buffer by buffer (no IPC stream written in JS): see `ColumnsSource`.
pub enum Source {
  Bytes(HeldBytes),
  Columns(ColumnsSource),
}

impl From<Vec<u8>> for Source {
  fn from(v: Vec<u8>) -> Self {
    Source::Bytes(v.into())
  }
}

/// One Arrow column of one record batch, as Arrow JS holds it (offset 0): validity bitmap (absent: no
/// nulls), value offsets (utf8, binary) and values (a bitmap for bool).
#[napi(object)]
pub struct ColumnBuffers {
  pub length: u32,
  pub null_count: u32,
  pub validity: Option<Uint8Array>,
  pub offsets: Option<Uint8Array>,
  pub values: Uint8Array,
}

/// A table as its columns' buffers: `types` are the table format's column types, `batches[b][c]` column c
/// of record batch b. The buffers are copied into Arrow arrays on the worker thread.
#[napi(object)]
pub struct ColumnsSource {
  pub names: Vec<String>,
  pub types: Vec<String>,
  pub batches: Vec<Vec<ColumnBuffers>>,
}

fn column_type(name: &str) -> Result<DataType> {
  use arrow_schema::TimeUnit;
  Ok(match name {
    "bool" => DataType::Boolean,
    "int8" => DataType::Int8,
    "int16" => DataType::Int16,
    "int32" => DataType::Int32,
    "int64" => DataType::Int64,
    "uint8" => DataType::UInt8,
    "uint16" => DataType::UInt16,
    "uint32" => DataType::UInt32,
    "uint64" => DataType::UInt64,
    "float32" => DataType::Float32,
    "float64" => DataType::Float64,
    "utf8" => DataType::Utf8,
    "binary" => DataType::Binary,
    "date32" => DataType::Date32,
    "timestamp_ms" => DataType::Timestamp(TimeUnit::Millisecond, None),
    "timestamp_us" => DataType::Timestamp(TimeUnit::Microsecond, None),
    other => return Err(Error::new(Status::InvalidArg, format!("unknown column type {other}"))),
  })
}

/// The columns as one batch (validated like an IPC stream: buffer sizes, offsets, UTF-8).
fn columns_batch(src: &ColumnsSource) -> Result<RecordBatch> {
  if src.names.len() != src.types.len() {
    return Err(Error::new(Status::InvalidArg, "one type per column name expected".to_string()));
  }
  let types = src.types.iter().map(|t| column_type(t)).collect::<Result<Vec<_>>>()?;
  let schema = Arc::new(Schema::new(src.names.iter().zip(&types).map(|(n, t)| Field::new(n, t.clone(), true)).collect::<Vec<_>>()));
  let mut batches = Vec::with_capacity(src.batches.len());
  for cols in &src.batches {
    if cols.len() != types.len() {
      return Err(Error::new(Status::InvalidArg, format!("a batch has {} columns, the schema {}", cols.len(), types.len())));
    }
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(cols.len());
    for (c, t) in cols.iter().zip(&types) {
      let len = c.length as usize;
      let mut buffers = Vec::with_capacity(2);
      if matches!(t, DataType::Utf8 | DataType::Binary) {
        let offsets = c.offsets.as_ref().ok_or_else(|| Error::new(Status::InvalidArg, "utf8/binary column without offsets".to_string()))?;
        buffers.push(arrow_buffer::Buffer::from_slice_ref(offsets.as_ref()));
      }
      buffers.push(arrow_buffer::Buffer::from_slice_ref(c.values.as_ref()));
      let nulls = match (&c.validity, c.null_count) {
        (Some(v), n) if n > 0 => Some(arrow_buffer::Buffer::from_slice_ref(v.as_ref())),
        _ => None,
      };
      let data = arrow_data::ArrayData::try_new(t.clone(), len, nulls, 0, buffers, vec![]).map_err(err("column buffers"))?;
      arrays.push(make_array(data));
    }
    batches.push(RecordBatch::try_new(schema.clone(), arrays).map_err(err("column batch"))?);
  }
  concat_batches(&schema, &batches).map_err(err("concat"))
}

/// One source (Arrow IPC stream or Parquet file) as a single batch; with `columns`, only those (in
/// that order): a Parquet source then decodes only them.
fn load_source(bytes: &[u8], columns: Option<&[String]>) -> Result<RecordBatch> {
  let batches: Vec<RecordBatch>;
  let schema: SchemaRef;
  if bytes.len() >= 4 && &bytes[..4] == PARQUET_MAGIC {
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::copy_from_slice(bytes)).map_err(err("parquet source"))?;
    let rows = builder.metadata().file_metadata().num_rows().max(1) as usize;
    if let Some(names) = columns {
      let file = builder.schema().clone();
      let roots = names.iter().map(|n| file.index_of(n).map_err(err("parquet source projection"))).collect::<Result<Vec<_>>>()?;
      let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
      builder = builder.with_projection(mask);
    }
    let reader = builder.with_batch_size(rows).build().map_err(err("parquet source"))?;
    schema = reader.schema();
    batches = reader.collect::<std::result::Result<_, _>>().map_err(err("parquet source"))?;
  } else {
    let reader = arrow_ipc::reader::StreamReader::try_new(Cursor::new(bytes), None).map_err(err("ipc source"))?;
    schema = reader.schema();
    batches = reader.collect::<std::result::Result<_, _>>().map_err(err("ipc source"))?;
  }
  // Projected by name: a Parquet projection keeps file order, an IPC source holds any superset.
  let batch = projected(concat_batches(&schema, &batches).map_err(err("concat"))?, columns)?;
  let normal = normalise_schema(&batch.schema());
  let mut out = Vec::with_capacity(batch.num_columns());
  for col in batch.columns() {
    out.push(match col.as_any_dictionary_opt() {
      None => col.clone(),
      Some(dict) => arrow_select::take::take(dict.values().as_ref(), dict.keys(), None).map_err(err("unpack dictionary"))?,
    });
  }
  RecordBatch::try_new(normal, out).map_err(err("normalise"))
}

/// `batch` with only `columns`, in that order (all of them when absent).
fn projected(batch: RecordBatch, columns: Option<&[String]>) -> Result<RecordBatch> {
  let Some(names) = columns else { return Ok(batch) };
  let at = names.iter().map(|n| batch.schema().index_of(n).map_err(err("source projection"))).collect::<Result<Vec<_>>>()?;
  batch.project(&at).map_err(err("source projection"))
}

/// Every source loaded (with `columns`, projected to them); at least one, all with the same columns.
/// An empty buffer stands for a source no pick uses (it keeps the others' numbers): it loads as no rows.
fn load_sources(sources: &[Source], columns: Option<&[String]>) -> Result<Vec<RecordBatch>> {
  let loaded = sources
    .iter()
    .map(|s| match s {
      Source::Columns(src) => projected(columns_batch(src)?, columns).map(Some),
      Source::Bytes(b) if b.as_ref().is_empty() => Ok(None),
      Source::Bytes(b) => load_source(b.as_ref(), columns).map(Some),
    })
    .collect::<Result<Vec<_>>>()?;
  let first = loaded.iter().flatten().next().ok_or_else(|| Error::new(Status::InvalidArg, "no sources".to_string()))?;
  let schema = first.schema();
  for b in loaded.iter().flatten() {
    if b.schema().fields() != schema.fields() {
      return Err(Error::new(Status::InvalidArg, "sources have different schemas".to_string()));
    }
  }
  Ok(loaded.into_iter().map(|b| b.unwrap_or_else(|| RecordBatch::new_empty(schema.clone()))).collect())
}

/// Picks `start..end` (flat (source, row) pairs) as interleave indices, each checked to lie in its source.
fn pick_indices(picks: &[u32], start: usize, end: usize, batches: &[RecordBatch]) -> Result<Vec<(usize, usize)>> {
  let mut indices = Vec::with_capacity(end - start);
  for i in start..end {
    let (s, r) = (picks[2 * i] as usize, picks[2 * i + 1] as usize);
    if s >= batches.len() || r >= batches[s].num_rows() {
      return Err(Error::new(Status::InvalidArg, format!("pick {i} ({s}, {r}) is out of range")));
    }
    indices.push((s, r));
  }
  Ok(indices)
}

/// The rows `indices` of `arrays` (same type), copied run by run: consecutive rows of one source go in
/// one copy. A read's picks are long runs of base rows between a few delta rows, where this is several
/// times faster than `interleave`'s value-by-value gather (bench/catalog-format.bench.ts, merge-on-read).
fn gather(arrays: &[&dyn Array], indices: &[(usize, usize)]) -> Result<ArrayRef> {
  let data: Vec<_> = arrays.iter().map(|a| a.to_data()).collect();
  let mut out = MutableArrayData::new(data.iter().collect(), false, indices.len());
  let mut i = 0;
  while i < indices.len() {
    let (s, r) = indices[i];
    let mut j = i + 1;
    while j < indices.len() && indices[j].0 == s && indices[j].1 == r + (j - i) {
      j += 1;
    }
    out.try_extend(s, r, r + (j - i)).map_err(err("gather"))?;
    i = j;
  }
  Ok(make_array(out.freeze()))
}

/// Batches as one Arrow IPC stream.
fn ipc_stream<I: IntoIterator<Item = Result<RecordBatch>>>(schema: &Schema, batches: I) -> Result<Vec<u8>> {
  let mut out = Vec::new();
  {
    let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut out, schema).map_err(err("ipc writer"))?;
    for b in batches {
      w.write(&b?).map_err(err("ipc write"))?;
    }
    w.finish().map_err(err("ipc finish"))?;
  }
  Ok(out)
}

fn encode_batch(batch: &RecordBatch, props: WriterProperties) -> Result<(Vec<u8>, String)> {
  let mut bytes = Vec::new();
  let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props)).map_err(err("parquet writer"))?;
  writer.write(batch).map_err(err("parquet write"))?;
  let metadata = writer.close().map_err(err("parquet close"))?;
  let stats = stats::column_stats_json(&batch.schema(), &metadata);
  Ok((bytes, stats))
}

pub struct BuildChunksTask {
  sources: Vec<Source>,
  picks: Option<Vec<u32>>,
  cuts: Vec<u32>,
  opts: EncodeOptions,
}

impl BuildChunksTask {
  fn chunk_batch(&self, batches: &[RecordBatch], whole: Option<&RecordBatch>, start: usize, end: usize) -> Result<RecordBatch> {
    if let Some(whole) = whole {
      return Ok(whole.slice(start, end - start));
    }
    let picks = self.picks.as_ref().expect("picks present when sources are not concatenated");
    let schema = batches[0].schema();
    let indices = pick_indices(picks, start, end, batches)?;
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for c in 0..schema.fields().len() {
      let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
      columns.push(interleave(&arrays, &indices).map_err(err("interleave"))?);
    }
    RecordBatch::try_new(schema, columns).map_err(err("chunk batch"))
  }
}

impl Task for BuildChunksTask {
  type Output = Vec<(Vec<u8>, u32, String)>;
  type JsValue = Vec<EncodedChunk>;

  fn compute(&mut self) -> Result<Self::Output> {
    // Checked before the sources are decoded: a bad option fails fast, whatever the rows.
    layout::Layout::parse(self.opts.layout.as_deref()).map_err(|e| Error::new(Status::InvalidArg, e))?;
    let batches = load_sources(&self.sources, None)?;
    let props = writer_props(&self.opts, &batches[0].schema())?;
    let total: usize = match &self.picks {
      Some(p) => p.len() / 2,
      None => batches.iter().map(|b| b.num_rows()).sum(),
    };
    let whole = if self.picks.is_none() {
      Some(concat_batches(&batches[0].schema(), &batches).map_err(err("concat"))?)
    } else {
      None
    };
    let mut bounds = Vec::with_capacity(self.cuts.len() + 1);
    let mut prev = 0usize;
    for &c in &self.cuts {
      let c = c as usize;
      if c <= prev || c > total {
        return Err(Error::new(Status::InvalidArg, format!("cut {c} out of order or beyond {total} rows")));
      }
      bounds.push((prev, c));
      prev = c;
    }
    if prev != total {
      return Err(Error::new(Status::InvalidArg, format!("cuts end at {prev}, rows are {total}")));
    }
    // Chunks are independent: encode them on two threads (the machines this targets have few cores).
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 4);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let this = &*self;
    let slots: Vec<std::sync::Mutex<Option<Result<(Vec<u8>, u32, String)>>>> =
      (0..bounds.len()).map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
      for _ in 0..workers.min(bounds.len().max(1)) {
        scope.spawn(|| loop {
          let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
          if i >= bounds.len() {
            break;
          }
          let (start, end) = bounds[i];
          let r = this
            .chunk_batch(&batches, whole.as_ref(), start, end)
            .and_then(|b| encode_batch(&b, props.clone()))
            .map(|(bytes, stats)| (bytes, (end - start) as u32, stats));
          *slots[i].lock().unwrap() = Some(r);
        });
      }
    });
    slots.into_iter().map(|s| s.into_inner().unwrap().expect("every chunk encoded")).collect()
  }

  fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
    Ok(
      output
        .into_iter()
        .map(|(bytes, rows, stats)| EncodedChunk { bytes: bytes.into(), rows, stats })
        .collect(),
    )
  }
}

/// Writes chunks. `sources`: Arrow IPC streams, Parquet files or column buffers (`ColumnsSource`) with the same columns. `picks`:
/// flat (source, row) pairs giving the output row order; absent = the sources concatenated. `cuts`:
/// exclusive end row of each chunk, strictly increasing, the last equal to the number of rows.
#[napi]
pub fn build_chunks(sources: Vec<Either<Buffer, ColumnsSource>>, picks: Option<Uint32Array>, cuts: Uint32Array, opts: Option<EncodeOptions>) -> AsyncTask<BuildChunksTask> {
  AsyncTask::new(BuildChunksTask {
    sources: sources.into_iter().map(|s| match s { Either::A(b) => Source::Bytes(HeldBytes::Js(b)), Either::B(c) => Source::Columns(c) }).collect(),
    picks: picks.map(|p| p.to_vec()),
    cuts: cuts.to_vec(),
    opts: opts.unwrap_or(EncodeOptions { compression: None, row_group_rows: None, layout: None, sorted_columns: None }),
  })
}

pub struct DecodeTask {
  bytes: HeldBytes,
  columns: Option<Vec<String>>,
  /// Only these rows (strictly ascending), e.g. the base rows of a few changed keys: pages are still
  /// decompressed, but the values of other rows are skipped instead of materialised.
  rows: Option<Vec<u32>>,
}

/// A row selection of exactly `rows` (strictly ascending, each below `total`).
fn row_selection(rows: &[u32], total: usize) -> Result<RowSelection> {
  let mut selectors = Vec::with_capacity(2 * rows.len() + 1);
  let mut next = 0usize;
  for &r in rows {
    let r = r as usize;
    if r < next || r >= total {
      return Err(Error::new(Status::InvalidArg, format!("row {r} is out of order or beyond {total} rows")));
    }
    if r > next {
      selectors.push(RowSelector::skip(r - next));
    }
    selectors.push(RowSelector::select(1));
    next = r + 1;
  }
  if next < total {
    selectors.push(RowSelector::skip(total - next));
  }
  Ok(RowSelection::from(selectors))
}

impl Task for DecodeTask {
  type Output = Vec<u8>;
  type JsValue = Buffer;

  fn compute(&mut self) -> Result<Self::Output> {
    // Copied here, on the worker thread: the reader wants owned bytes.
    let bytes = Bytes::copy_from_slice(self.bytes.as_ref());
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(err("parquet decode"))?;
    let rows = builder.metadata().file_metadata().num_rows().max(1) as usize;
    let builder = match &self.columns {
      None => builder,
      Some(names) => {
        let schema = builder.schema().clone();
        let mut roots = Vec::with_capacity(names.len());
        for n in names {
          roots.push(schema.index_of(n).map_err(err("projection"))?);
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        builder.with_projection(mask)
      }
    };
    let builder = match &self.rows {
      None => builder,
      Some(selected) => {
        let total = builder.metadata().file_metadata().num_rows() as usize;
        builder.with_row_selection(row_selection(selected, total)?)
      }
    };
    let reader = builder.with_batch_size(rows).build().map_err(err("parquet decode"))?;
    let schema = reader.schema();
    ipc_stream(&schema, reader.map(|b| b.map_err(err("parquet decode"))))
  }

  fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
    Ok(output.into())
  }
}

/// Parquet bytes -> Arrow IPC stream, optionally only `columns` (in file order) and only `rows`
/// (strictly ascending row numbers, in that order).
#[napi]
pub fn decode_parquet(bytes: Buffer, columns: Option<Vec<String>>, rows: Option<Uint32Array>) -> AsyncTask<DecodeTask> {
  AsyncTask::new(DecodeTask { bytes: HeldBytes::Js(bytes), columns, rows: rows.map(|r| r.to_vec()) })
}

pub struct InterleaveTask {
  sources: Vec<Source>,
  picks: Vec<u32>,
  columns: Option<Vec<String>>,
  /// Other picks for some columns (column-level updates take some values from base rows): per output
  /// column, an index into `groups`, or -1 for `picks`.
  groups: Vec<Vec<u32>>,
  group_of: Vec<i32>,
}

impl Task for InterleaveTask {
  type Output = Vec<u8>;
  type JsValue = Buffer;

  fn compute(&mut self) -> Result<Self::Output> {
    // Sources are projected to the output columns as they load (a Parquet source decodes only those),
    // so they need to agree on those columns only.
    let batches = load_sources(&self.sources, self.columns.as_deref())?;
    let schema = batches[0].schema();
    let width = schema.fields().len();
    let n = self.picks.len() / 2;
    let indices = pick_indices(&self.picks, 0, n, &batches)?;
    let mut group_indices = Vec::with_capacity(self.groups.len());
    for g in &self.groups {
      if g.len() != self.picks.len() {
        return Err(Error::new(Status::InvalidArg, "column picks differ in length from picks".to_string()));
      }
      group_indices.push(pick_indices(g, 0, n, &batches)?);
    }
    if !self.group_of.is_empty() && self.group_of.len() != width {
      return Err(Error::new(Status::InvalidArg, "one pick group per column expected".to_string()));
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(width);
    for k in 0..width {
      let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(k).as_ref()).collect();
      let picks = match self.group_of.get(k) {
        Some(&g) if g >= 0 => group_indices.get(g as usize).ok_or_else(|| Error::new(Status::InvalidArg, format!("no pick group {g}")))?,
        _ => &indices,
      };
      columns.push(gather(&arrays, picks)?);
    }
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(err("interleaved batch"))?;
    ipc_stream(&schema, [Ok(batch)])
  }

  fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
    Ok(output.into())
  }
}

/// The rows `picks` (flat (source, row) pairs) of `sources` (Arrow IPC streams or Parquet files) as one
/// Arrow IPC stream of `columns` (all when absent, else in the order given). Sources must agree on the
/// columns taken (all of them when absent); a Parquet source decodes only those.
/// What `build_chunks` does before encoding, without the Parquet round trip: for rows that are only read.
#[napi]
pub fn interleave_rows(sources: Vec<Buffer>, picks: Uint32Array, columns: Option<Vec<String>>, groups: Option<Vec<Uint32Array>>, group_of: Option<Vec<i32>>) -> AsyncTask<InterleaveTask> {
  AsyncTask::new(InterleaveTask {
    sources: sources.into_iter().map(|b| Source::Bytes(HeldBytes::Js(b))).collect(),
    picks: picks.to_vec(),
    columns,
    groups: groups.unwrap_or_default().iter().map(|g| g.to_vec()).collect(),
    group_of: group_of.unwrap_or_default(),
  })
}

#[cfg(test)]
mod tests {
  use super::*;
  use arrow_array::{Int64Array, StringArray};

  fn batch(ids: &[i64], names: &[&str]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true), Field::new("name", DataType::Utf8, true)]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(ids.to_vec())), Arc::new(StringArray::from(names.to_vec()))]).unwrap()
  }

  fn owned(v: Vec<Vec<u8>>) -> Vec<Source> {
    v.into_iter().map(Source::from).collect()
  }

  fn ipc(b: &RecordBatch) -> Vec<u8> {
    ipc_stream(&b.schema(), [Ok(b.clone())]).unwrap()
  }

  fn opts(layout: &str) -> EncodeOptions {
    EncodeOptions { compression: None, row_group_rows: None, layout: Some(layout.to_string()), sorted_columns: None }
  }

  #[test]
  fn same_rows_encode_to_the_same_bytes_in_either_layout() {
    let b = batch(&[1, 2, 3], &["a", "b", "c"]);
    for layout in ["base", "delta"] {
      let (x, sx) = encode_batch(&b, writer_props(&opts(layout), &b.schema()).unwrap()).unwrap();
      let (y, sy) = encode_batch(&b, writer_props(&opts(layout), &b.schema()).unwrap()).unwrap();
      assert_eq!(x, y, "{layout}");
      assert_eq!(sx, sy);
      assert_eq!(&x[..4], PARQUET_MAGIC);
    }
    assert!(writer_props(&opts("columnar"), &b.schema()).is_err());
  }

  /// Each column's encodings in a chunk written from `b` with `opts`.
  fn encodings_of(b: &RecordBatch, opts: &EncodeOptions) -> Vec<Vec<parquet::basic::Encoding>> {
    use parquet::file::reader::FileReader;
    let (bytes, _) = encode_batch(b, writer_props(opts, &b.schema()).unwrap()).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
    let rg = reader.metadata().row_group(0);
    (0..rg.num_columns()).map(|c| rg.column(c).encodings().collect()).collect()
  }

  #[test]
  fn base_chunks_delta_encode_their_sort_key_and_fall_back_to_delta_for_integers() {
    use arrow_array::{Float64Array, Int32Array};
    use parquet::basic::Encoding::{DELTA_BINARY_PACKED, PLAIN, RLE_DICTIONARY};
    let n = 20_000i64;
    let schema = Arc::new(Schema::new(vec![
      Field::new("id", DataType::Int64, true),
      Field::new("many", DataType::Int64, true),
      Field::new("few", DataType::Int32, true),
      Field::new("price", DataType::Float64, true),
    ]));
    let b = RecordBatch::try_new(schema, vec![
      Arc::new(Int64Array::from_iter_values(0..n)),
      Arc::new(Int64Array::from_iter_values((0..n).map(|i| (i * 7919) % 15_013))),
      Arc::new(Int32Array::from_iter_values((0..n).map(|i| (i % 20) as i32))),
      Arc::new(Float64Array::from_iter_values((0..n).map(|i| ((i * 7919) % 15_013) as f64 / 100.0))),
    ])
    .unwrap();
    let keyed = EncodeOptions { sorted_columns: Some(vec!["id".to_string()]), ..opts("base") };
    let enc = encodings_of(&b, &keyed);
    assert!(enc[0].contains(&DELTA_BINARY_PACKED) && !enc[0].contains(&RLE_DICTIONARY), "sorted key: {:?}", enc[0]);
    // High cardinality overflows the dictionary: integers continue delta-encoded, floats plain (a
    // dictionary page is PLAIN-encoded itself, so PLAIN is listed whenever there is one).
    assert!(enc[1].contains(&RLE_DICTIONARY) && enc[1].contains(&DELTA_BINARY_PACKED), "{:?}", enc[1]);
    assert!(enc[2].contains(&RLE_DICTIONARY) && !enc[2].contains(&DELTA_BINARY_PACKED), "low cardinality stays a dictionary: {:?}", enc[2]);
    assert!(enc[3].contains(&RLE_DICTIONARY) && enc[3].contains(&PLAIN) && !enc[3].contains(&DELTA_BINARY_PACKED), "{:?}", enc[3]);
    // Without a sort key the key column is an integer like any other (its dictionary overflows).
    let unkeyed = encodings_of(&b, &opts("base"));
    assert!(unkeyed[0].contains(&RLE_DICTIONARY) && unkeyed[0].contains(&DELTA_BINARY_PACKED), "{:?}", unkeyed[0]);
    // A sort key in the delta layout changes nothing (every delta column is delta-encoded already).
    assert_eq!(encodings_of(&b, &EncodeOptions { sorted_columns: Some(vec!["id".to_string()]), ..opts("delta") }), encodings_of(&b, &opts("delta")));
  }

  #[test]
  fn sources_must_exist_and_share_columns() {
    assert!(load_sources(&owned(vec![]), None).is_err());
    let other = RecordBatch::try_new(
      Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)])),
      vec![Arc::new(Int64Array::from(vec![1]))],
    )
    .unwrap();
    assert!(load_sources(&owned(vec![ipc(&batch(&[1], &["a"])), ipc(&other)]), None).is_err());
    // A Parquet chunk and an IPC stream of the same columns are both sources.
    let b = batch(&[7], &["z"]);
    let (parquet, _) = encode_batch(&b, writer_props(&opts("base"), &b.schema()).unwrap()).unwrap();
    assert_eq!(load_sources(&owned(vec![parquet.clone(), ipc(&b)]), None).unwrap().len(), 2);
    // Projected to shared columns, sources of different schemas agree.
    let only_id = vec!["id".to_string()];
    let loaded = load_sources(&owned(vec![parquet, ipc(&other)]), Some(&only_id)).unwrap();
    assert_eq!(loaded[0].schema().fields(), loaded[1].schema().fields());
    assert!(load_sources(&owned(vec![ipc(&other)]), Some(&["name".to_string()])).is_err());
    // Empty buffers hold places: no rows, the others' schema; alone they are no source.
    let placed = load_sources(&owned(vec![vec![], ipc(&b)]), None).unwrap();
    assert_eq!((placed[0].num_rows(), placed[0].schema()), (0, placed[1].schema()));
    assert!(load_sources(&owned(vec![vec![], vec![]]), None).is_err());
    assert!(pick_indices(&[0, 0], 0, 1, &placed).is_err());
  }

  #[test]
  fn picks_out_of_range_are_refused() {
    let batches = vec![batch(&[1, 2], &["a", "b"])];
    assert_eq!(pick_indices(&[0, 1, 0, 0], 0, 2, &batches).unwrap(), vec![(0, 1), (0, 0)]);
    assert!(pick_indices(&[0, 2], 0, 1, &batches).is_err());
    assert!(pick_indices(&[1, 0], 0, 1, &batches).is_err());
  }

  #[test]
  fn interleave_takes_picked_rows_in_order_and_projects() {
    let mut task = InterleaveTask {
      sources: owned(vec![ipc(&batch(&[1, 2, 3], &["a", "b", "c"])), ipc(&batch(&[10, 11], &["x", "y"]))]),
      picks: vec![1, 1, 0, 2, 0, 0],
      columns: Some(vec!["name".to_string(), "id".to_string()]),
      groups: vec![],
      group_of: vec![],
    };
    let out = task.compute().unwrap();
    let reader = arrow_ipc::reader::StreamReader::try_new(Cursor::new(out), None).unwrap();
    let batches: Vec<RecordBatch> = reader.collect::<std::result::Result<_, _>>().unwrap();
    let b = &batches[0];
    assert_eq!(b.schema().field(0).name(), "name");
    let names: Vec<&str> = b.column(0).as_string::<i32>().iter().map(|v| v.unwrap()).collect();
    assert_eq!(names, vec!["y", "c", "a"]);
    let ids = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(ids.values().to_vec(), vec![11, 3, 1]);
  }

  #[test]
  fn decode_selects_only_the_rows_asked() {
    let b = batch(&[1, 2, 3, 4, 5], &["a", "b", "c", "d", "e"]);
    let (parquet, _) = encode_batch(&b, writer_props(&opts("base"), &b.schema()).unwrap()).unwrap();
    let mut task = DecodeTask { bytes: parquet.clone().into(), columns: None, rows: Some(vec![1, 2, 4]) };
    let out = task.compute().unwrap();
    let reader = arrow_ipc::reader::StreamReader::try_new(Cursor::new(out), None).unwrap();
    let batches: Vec<RecordBatch> = reader.collect::<std::result::Result<_, _>>().unwrap();
    let ids: Vec<i64> = batches.iter().flat_map(|b| b.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec()).collect();
    assert_eq!(ids, vec![2, 3, 5]);
    for bad in [vec![2, 1], vec![5], vec![1, 1]] {
      assert!(DecodeTask { bytes: parquet.clone().into(), columns: None, rows: Some(bad) }.compute().is_err());
    }
  }

  #[test]
  fn interleave_takes_a_column_group_from_its_own_picks() {
    let mut task = InterleaveTask {
      sources: owned(vec![ipc(&batch(&[1, 2, 3], &["a", "b", "c"])), ipc(&batch(&[10, 11], &["x", "y"]))]),
      picks: vec![1, 1, 0, 2],
      columns: Some(vec!["id".to_string(), "name".to_string()]),
      groups: vec![vec![0, 0, 1, 0]],
      group_of: vec![-1, 0],
    };
    let out = task.compute().unwrap();
    let reader = arrow_ipc::reader::StreamReader::try_new(Cursor::new(out), None).unwrap();
    let batches: Vec<RecordBatch> = reader.collect::<std::result::Result<_, _>>().unwrap();
    let b = &batches[0];
    let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(ids.values().to_vec(), vec![11, 3]);
    let names: Vec<&str> = b.column(1).as_string::<i32>().iter().map(|v| v.unwrap()).collect();
    assert_eq!(names, vec!["a", "x"]);
    let mut bad = InterleaveTask { sources: vec![], picks: vec![0, 0], columns: None, groups: vec![vec![0, 0, 0, 1]], group_of: vec![0, 0] };
    bad.sources = owned(vec![ipc(&batch(&[1], &["a"]))]);
    assert!(bad.compute().is_err());
  }

  #[test]
  fn gather_equals_interleave_over_runs_and_single_rows() {
    let a: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some("c"), Some("d"), Some("e")]));
    let b: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), Some("y"), None]));
    let arrays: Vec<&dyn Array> = vec![a.as_ref(), b.as_ref()];
    let indices = vec![(0, 0), (0, 1), (1, 2), (0, 3), (0, 4), (1, 0), (1, 1), (0, 2), (0, 2)];
    let gathered = gather(&arrays, &indices).unwrap();
    assert_eq!(gathered.to_data(), interleave(&arrays, &indices).unwrap().to_data());
    assert_eq!(gathered.null_count(), 2);
    let ints: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
    assert_eq!(gather(&[ints.as_ref()], &[(0, 2), (0, 0), (0, 1)]).unwrap().to_data(), Int64Array::from(vec![3, 1, 2]).to_data());
  }
}
