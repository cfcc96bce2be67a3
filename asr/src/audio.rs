//! Audio in: WAV files of 16-bit PCM or G.711 (µ-law, A-law) at 8 or
//! 16 kHz, turned into [`AudioClip`]s at [`SAMPLE_RATE`].
//!
//! hound reads PCM WAV files but not G.711 ones (format tags 6 and 7), so
//! the few header fields are read here; the G.711 expansion follows the
//! ITU-T G.711 reference algorithm (a table would be 2 × 256 numbers to
//! check by eye; the formula is six lines). Resampling 8 → 16 kHz uses
//! rubato's FFT resampler.

use std::io::Cursor;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::{AsrError, SAMPLE_RATE};

/// Mono 16-bit PCM audio at [`SAMPLE_RATE`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AudioClip {
    samples: Vec<i16>,
}

impl std::fmt::Debug for AudioClip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AudioClip({} ms)", self.duration_ms())
    }
}

impl AudioClip {
    /// Wraps samples that are already at [`SAMPLE_RATE`].
    pub fn new(samples: Vec<i16>) -> Self {
        AudioClip { samples }
    }

    /// Converts mono samples at 8 or 16 kHz to a clip at [`SAMPLE_RATE`].
    pub fn from_rate(samples: &[i16], rate: u32) -> Result<Self, AsrError> {
        match rate {
            SAMPLE_RATE => Ok(AudioClip::new(samples.to_vec())),
            8_000 => Ok(AudioClip::new(resample(samples, 8_000, SAMPLE_RATE)?)),
            other => Err(AsrError::Audio {
                reason: format!("sample rate {other} Hz (8000 or 16000 Hz are accepted)"),
            }),
        }
    }

    /// Reads a WAV file's bytes (see the module documentation for formats).
    pub fn from_wav(bytes: &[u8]) -> Result<Self, AsrError> {
        let wav = decode_wav(bytes)?;
        AudioClip::from_rate(&wav.samples, wav.rate)
    }

    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// The samples scaled to [-1, 1), as Whisper takes them.
    pub fn to_f32(&self) -> Vec<f32> {
        self.samples
            .iter()
            .map(|&s| f32::from(s) / 32768.0)
            .collect()
    }

    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / u64::from(SAMPLE_RATE)
    }

    /// The clip as a 16-bit PCM WAV file (for remote recognisers).
    pub fn to_wav(&self) -> Result<Vec<u8>, AsrError> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = Cursor::new(Vec::new());
        let write = |e: hound::Error| AsrError::Audio {
            reason: format!("cannot encode WAV: {e}"),
        };
        let mut w = hound::WavWriter::new(&mut out, spec).map_err(write)?;
        for &s in &self.samples {
            w.write_sample(s).map_err(write)?;
        }
        w.finalize().map_err(write)?;
        Ok(out.into_inner())
    }
}

/// Mono samples at their own rate, as read from a WAV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavAudio {
    pub rate: u32,
    pub samples: Vec<i16>,
}

const FORMAT_PCM: u16 = 1;
const FORMAT_ALAW: u16 = 6;
const FORMAT_MULAW: u16 = 7;

fn audio_err(reason: impl Into<String>) -> AsrError {
    AsrError::Audio {
        reason: reason.into(),
    }
}

/// Decodes a mono WAV file of 16-bit PCM or 8-bit G.711 at any rate.
pub fn decode_wav(bytes: &[u8]) -> Result<WavAudio, AsrError> {
    let (format, channels, rate, bits) = wav_format(bytes)?;
    if channels != 1 {
        return Err(audio_err(format!("{channels} channels (mono is accepted)")));
    }
    match format {
        FORMAT_PCM => {
            if bits != 16 {
                return Err(audio_err(format!(
                    "{bits}-bit PCM (16-bit PCM or G.711 is accepted)"
                )));
            }
            let reader = hound::WavReader::new(Cursor::new(bytes))
                .map_err(|e| audio_err(format!("not a readable WAV file: {e}")))?;
            let samples = reader
                .into_samples::<i16>()
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| audio_err(format!("broken WAV data: {e}")))?;
            Ok(WavAudio { rate, samples })
        }
        FORMAT_ALAW | FORMAT_MULAW => {
            let data = chunk(bytes, b"data").ok_or_else(|| audio_err("no data chunk"))?;
            let expand = if format == FORMAT_ALAW {
                alaw_to_linear
            } else {
                ulaw_to_linear
            };
            Ok(WavAudio {
                rate,
                samples: data.iter().map(|&b| expand(b)).collect(),
            })
        }
        other => Err(audio_err(format!(
            "WAV format tag {other} (16-bit PCM, µ-law or A-law is accepted)"
        ))),
    }
}

/// `(format tag, channels, rate, bits per sample)` from the `fmt ` chunk.
fn wav_format(bytes: &[u8]) -> Result<(u16, u16, u32, u16), AsrError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(audio_err("not a WAV file (no RIFF/WAVE header)"));
    }
    let fmt = chunk(bytes, b"fmt ").ok_or_else(|| audio_err("WAV file without a fmt chunk"))?;
    if fmt.len() < 16 {
        return Err(audio_err("WAV fmt chunk is too short"));
    }
    let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
    let mut format = u16_at(0);
    // WAVE_FORMAT_EXTENSIBLE carries the real tag in its sub-format GUID.
    if format == 0xFFFE && fmt.len() >= 26 {
        format = u16_at(24);
    }
    let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
    Ok((format, u16_at(2), rate, u16_at(14)))
}

/// The body of the first RIFF chunk with this id (clipped to the file).
fn chunk<'a>(bytes: &'a [u8], id: &[u8; 4]) -> Option<&'a [u8]> {
    let mut at = 12usize;
    while at.checked_add(8)? <= bytes.len() {
        let size = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let body = at + 8;
        let end = body.saturating_add(size as usize).min(bytes.len());
        if &bytes[at..at + 4] == id {
            return Some(&bytes[body..end]);
        }
        // Chunks are padded to an even length.
        at = end + (size as usize & 1);
    }
    None
}

/// G.711 µ-law byte → 16-bit linear sample.
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    let v = if u & 0x80 != 0 { -magnitude } else { magnitude };
    v as i16
}

/// G.711 A-law byte → 16-bit linear sample.
pub fn alaw_to_linear(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let exponent = (a >> 4) & 0x07;
    let mantissa = i32::from(a & 0x0F);
    let magnitude = match exponent {
        0 => (mantissa << 4) + 8,
        e => ((mantissa << 4) + 0x108) << (e - 1),
    };
    let v = if a & 0x80 != 0 { magnitude } else { -magnitude };
    v as i16
}

/// G.711 µ-law encoding of a 16-bit linear sample (the inverse of
/// [`ulaw_to_linear`], with the reference algorithm's bias and clipping).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32_635;
    let s = i32::from(sample);
    let sign = if s < 0 { 0x80 } else { 0 };
    let magnitude = s.abs().min(CLIP) + BIAS;
    let exponent = (0..8).rev().find(|&e| magnitude >= 0x80 << e).unwrap_or(0);
    let mantissa = (magnitude >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// G.711 A-law encoding of a 16-bit linear sample (the inverse of
/// [`alaw_to_linear`]).
pub fn linear_to_alaw(sample: i16) -> u8 {
    let s = i32::from(sample);
    let (sign, magnitude) = if s >= 0 {
        (0x80, s)
    } else {
        (0, (-s).min(32767))
    };
    let code = if magnitude < 256 {
        magnitude >> 4
    } else {
        let exponent = (1..8).rev().find(|&e| magnitude >= 128 << e).unwrap_or(1);
        (exponent << 4) | ((magnitude >> (exponent + 3)) & 0x0F)
    };
    ((sign | code) as u8) ^ 0x55
}

/// How [`encode_wav`] stores samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavEncoding {
    Pcm16,
    MuLaw,
    ALaw,
}

/// Writes mono samples as a WAV file at `rate`.
pub fn encode_wav(samples: &[i16], rate: u32, encoding: WavEncoding) -> Vec<u8> {
    let (format, bits, data): (u16, u16, Vec<u8>) = match encoding {
        WavEncoding::Pcm16 => (
            FORMAT_PCM,
            16,
            samples.iter().flat_map(|s| s.to_le_bytes()).collect(),
        ),
        WavEncoding::MuLaw => (
            FORMAT_MULAW,
            8,
            samples.iter().map(|&s| linear_to_ulaw(s)).collect(),
        ),
        WavEncoding::ALaw => (
            FORMAT_ALAW,
            8,
            samples.iter().map(|&s| linear_to_alaw(s)).collect(),
        ),
    };
    let block = bits / 8;
    let mut v = Vec::with_capacity(44 + data.len());
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&format.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    v.extend_from_slice(&block.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(&data);
    if data.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// Resamples mono audio between two fixed rates (rubato's FFT resampler).
pub fn resample(samples: &[i16], from: u32, to: u32) -> Result<Vec<i16>, AsrError> {
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    let input: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
    let err = |e: &dyn std::fmt::Display| audio_err(format!("cannot resample: {e}"));
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Both)
        .map_err(|e| err(&e))?;
    let adapter = InterleavedSlice::new(&input, 1, input.len()).map_err(|e| err(&e))?;
    let out = resampler
        .process_all(&adapter, input.len(), None)
        .map_err(|e| err(&e))?;
    Ok(out
        .take_data()
        .into_iter()
        .map(|v| (v * 32768.0).clamp(-32768.0, 32767.0) as i16)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_bytes(format: u16, rate: u32, bits: u16, channels: u16, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&format.to_le_bytes());
        v.extend_from_slice(&channels.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        let block = channels * bits / 8;
        v.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
        v.extend_from_slice(&block.to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn g711_reference_values() {
        // Values of the ITU-T G.711 tables.
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
    }

    #[test]
    fn g711_encoders_invert_the_decoders() {
        for b in 0..=255u8 {
            let u = ulaw_to_linear(b);
            assert_eq!(ulaw_to_linear(linear_to_ulaw(u)), u, "µ-law {b:#x}");
            let a = alaw_to_linear(b);
            assert_eq!(alaw_to_linear(linear_to_alaw(a)), a, "A-law {b:#x}");
        }
    }

    #[test]
    fn encoded_alaw_wav_reads_back() {
        let tone: Vec<i16> = (0..800).map(|i| ((i % 40) * 500 - 10_000) as i16).collect();
        let wav = decode_wav(&encode_wav(&tone, 8000, WavEncoding::ALaw)).unwrap();
        assert_eq!(wav.rate, 8000);
        assert_eq!(wav.samples.len(), 800);
        let worst = tone
            .iter()
            .zip(&wav.samples)
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max()
            .unwrap_or(0);
        assert!(worst <= 320, "worst error {worst}");
    }

    #[test]
    fn ulaw_wav_at_8khz_becomes_16khz() {
        let data = vec![0x80u8; 8000]; // one second of µ-law
        let clip = AudioClip::from_wav(&wav_bytes(FORMAT_MULAW, 8000, 8, 1, &data)).unwrap();
        assert_eq!(clip.duration_ms(), 1000);
        assert_eq!(clip.samples().len(), 16000);
    }

    #[test]
    fn pcm_wav_at_16khz_round_trips() {
        let clip = AudioClip::new((0..1600).map(|i| (i * 7) as i16).collect());
        let back = AudioClip::from_wav(&clip.to_wav().unwrap()).unwrap();
        assert_eq!(back, clip);
    }

    #[test]
    fn resampled_tone_keeps_its_level() {
        let tone: Vec<i16> = (0..8000)
            .map(|i| (10000.0 * (i as f32 * 440.0 * std::f32::consts::TAU / 8000.0).sin()) as i16)
            .collect();
        let clip = AudioClip::from_rate(&tone, 8000).unwrap();
        let mid = &clip.samples()[4000..12000];
        let peak = mid.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!((9000..=11000).contains(&peak), "peak {peak}");
    }

    #[test]
    fn wav_errors_say_what_is_wrong() {
        let msg = |bytes: &[u8]| AudioClip::from_wav(bytes).unwrap_err().to_string();
        assert!(msg(b"hello, not audio").contains("not a WAV file"));
        assert!(msg(&wav_bytes(FORMAT_PCM, 16000, 16, 2, &[0; 8])).contains("2 channels"));
        assert!(msg(&wav_bytes(FORMAT_PCM, 16000, 8, 1, &[0; 8])).contains("8-bit PCM"));
        assert!(msg(&wav_bytes(FORMAT_PCM, 44100, 16, 1, &[0; 8])).contains("44100 Hz"));
        assert!(msg(&wav_bytes(3, 16000, 32, 1, &[0; 8])).contains("format tag 3"));
    }
}
