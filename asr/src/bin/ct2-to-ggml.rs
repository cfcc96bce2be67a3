//! `ct2-to-ggml MODEL_DIR OUT.bin`: converts a CTranslate2 Whisper model
//! (`model.bin` and `vocabulary.txt` in MODEL_DIR) to whisper.cpp's GGML
//! format. `scripts/fetch-whisper` runs it once per machine.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, out] = args.as_slice() else {
        eprintln!("usage: ct2-to-ggml MODEL_DIR OUT.bin");
        return ExitCode::from(2);
    };
    match asr::convert_ct2_to_ggml(&PathBuf::from(dir), &PathBuf::from(out)) {
        Ok(s) => {
            println!(
                "ct2-to-ggml: wrote {out}: {} tensors, {} + {} layers, {} tokens, {:.1} MiB",
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
