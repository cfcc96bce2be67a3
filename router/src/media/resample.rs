//! Whole-clip resampling between telephone (8 kHz), recogniser (16 kHz)
//! and synthesiser rates, with rubato's FFT resampler.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Why a clip could not be resampled.
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    #[error("cannot resample from {from} Hz to {to} Hz: {reason}")]
    Rates { from: u32, to: u32, reason: String },
}

/// `samples` at `from` Hz as `to` Hz, same duration.
pub fn resample(samples: &[i16], from: u32, to: u32) -> Result<Vec<i16>, ResampleError> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let err = |e: &dyn std::fmt::Display| ResampleError::Rates {
        from,
        to,
        reason: e.to_string(),
    };
    let input: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
    let mut r = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Both)
        .map_err(|e| err(&e))?;
    let adapter = InterleavedSlice::new(&input, 1, input.len()).map_err(|e| err(&e))?;
    let out = r
        .process_all(&adapter, input.len(), None)
        .map_err(|e| err(&e))?;
    Ok(out
        .take_data()
        .into_iter()
        .map(|x| (x * 32768.0).clamp(-32768.0, 32767.0) as i16)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_duration_and_tone() {
        // One second of 440 Hz at 22050 Hz, as espeak-ng writes it.
        let tone: Vec<i16> = (0..22050)
            .map(|i| {
                (8000.0 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 22050.0).sin()) as i16
            })
            .collect();
        let out = resample(&tone, 22050, 8000).expect("resamples");
        assert!((7999..=8001).contains(&out.len()), "{}", out.len());
        // Zero crossings: 880 per second, give or take the edges.
        let crossings = out.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((870..=890).contains(&crossings), "{crossings}");
    }
}
