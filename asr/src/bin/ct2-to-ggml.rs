//! `ct2-to-ggml [--q8_0] MODEL_DIR OUT.bin`: converts a CTranslate2 Whisper
//! model (`model.bin` and `vocabulary.txt` in MODEL_DIR) to whisper.cpp's
//! GGML format, with f16 weight matrices or, with `--q8_0`, GGML's 8-bit
//! `Q8_0` blocks. `scripts/fetch-whisper` runs it once per machine for each.

use std::path::PathBuf;
use std::process::ExitCode;

use asr::WeightType;

fn main() -> ExitCode {
    let mut weights = WeightType::F16;
    let mut paths = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--q8_0" => weights = WeightType::Q8_0,
            "--f16" => weights = WeightType::F16,
            _ => paths.push(arg),
        }
    }
    let [dir, out] = paths.as_slice() else {
        eprintln!("usage: ct2-to-ggml [--f16 | --q8_0] MODEL_DIR OUT.bin");
        return ExitCode::from(2);
    };
    match asr::convert_ct2_to_ggml_as(&PathBuf::from(dir), &PathBuf::from(out), weights) {
        Ok(s) => {
            println!(
                "ct2-to-ggml: wrote {out} ({weights:?}): {} tensors, {} + {} layers, {} tokens, {:.1} MiB",
                s.tensors,
                s.encoder_layers,
                s.decoder_layers,
                s.vocabulary,
                s.bytes as f64 / (1024.0 * 1024.0)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ct2-to-ggml: {e}");
            ExitCode::FAILURE
        }
    }
}
