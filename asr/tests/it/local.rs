//! The local recogniser with the real model.

use std::time::Duration;

use asr::{AsrError, AudioClip, Backend, LocalRecognizer, WavEncoding};

use crate::speech::{config, danish, danish_clip, model, model_f16};

#[test]
fn danish_speech_at_16khz_is_recognised() {
    let local = LocalRecognizer::start(config()).unwrap();
    let t = local
        .transcribe_blocking(&danish_clip("jeg har mistet mit sundhedskort"))
        .unwrap();
    assert_eq!(t.backend, Backend::Local);
    let text = t.text().to_lowercase();
    assert!(text.contains("sundhedskort"), "heard {text:?}");
    // A sentence that ends is decoded once: no fallback round for it.
    assert_eq!(t.decodes, 1);
}

#[test]
fn telephone_ulaw_at_8khz_is_recognised() {
    let samples = danish("jeg vil gerne bestille et nyt kørekort", 8_000);
    let wav = asr::encode_wav(&samples, 8_000, WavEncoding::MuLaw);
    let clip = AudioClip::from_wav(&wav).unwrap();
    let local = LocalRecognizer::start(config()).unwrap();
    let text = local
        .transcribe_blocking(&clip)
        .unwrap()
        .into_text()
        .to_lowercase();
    assert!(text.contains("kørekort"), "heard {text:?}");
}

#[test]
fn f16_model_recognises_danish_too() {
    let path = model_f16();
    // The header's eleventh hyper-parameter is the ftype: 1 is f16 (the
    // default Q8_0 model has 7, GGML_FTYPE_MOSTLY_Q8_0).
    for (path, ftype) in [(path.clone(), 1), (model(), 7)] {
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[0..4], b"lmgg");
        assert_eq!(
            i32::from_le_bytes([bytes[44], bytes[45], bytes[46], bytes[47]]),
            ftype
        );
    }
    let mut c = config();
    c.model = path;
    let local = LocalRecognizer::start(c).unwrap();
    // Greedy decoding of the f16 weights mishears espeak's "sundhedskort"
    // (whisper.cpp's retry of unsure results used to mend it by sampling);
    // the telephone sentence it gets right.
    let samples = danish("jeg vil gerne bestille et nyt kørekort", 8_000);
    let wav = asr::encode_wav(&samples, 8_000, WavEncoding::MuLaw);
    let text = local
        .transcribe_blocking(&AudioClip::from_wav(&wav).unwrap())
        .unwrap()
        .into_text()
        .to_lowercase();
    assert!(text.contains("kørekort"), "heard {text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_api_recognises_and_reports_timing() {
    let local = LocalRecognizer::start(config()).unwrap();
    let clip = danish_clip("jeg har mistet mit sundhedskort");
    let t = local.transcribe(&clip).await.unwrap();
    assert!(t.audio_ms > 1000);
    assert!(t.elapsed > Duration::ZERO);
    assert!(
        t.text().to_lowercase().contains("sundhedskort"),
        "heard {:?}",
        t.text()
    );
}

#[test]
fn busy_pool_answers_overloaded_instead_of_queueing() {
    let mut c = config();
    c.slots = 1;
    c.admission_wait = Duration::from_millis(20);
    c.cut_audio_context = false; // a slow job holds the only slot
    let local = LocalRecognizer::start(c).unwrap();
    let busy = local.clone();
    let clip = danish_clip("jeg vil gerne bestille en tid hos borgerservice til mit kørekort");
    let long = clip.clone();
    let first = std::thread::spawn(move || busy.transcribe_blocking(&long));
    // Wait until the first job has taken the slot: with the full 30-second
    // context it takes well over a second on this machine.
    std::thread::sleep(Duration::from_millis(300));
    let second = local.transcribe_blocking(&clip);
    assert!(matches!(second, Err(AsrError::Overloaded)), "{second:?}");
    assert!(first.join().unwrap().is_ok());
    // The slot is free again.
    assert!(local.transcribe_blocking(&clip).is_ok());
}

#[test]
fn too_long_and_missing_model_are_errors() {
    let mut c = config();
    c.max_utterance_ms = 1000;
    let local = LocalRecognizer::start(c).unwrap();
    let err = local.transcribe_blocking(&AudioClip::new(vec![0; 32_000]));
    assert!(
        matches!(
            err,
            Err(AsrError::TooLong {
                ms: 2000,
                limit_ms: 1000
            })
        ),
        "{err:?}"
    );

    let missing = LocalRecognizer::start(asr::WhisperConfig::new("/nonexistent/ggml.bin"));
    let msg = missing.unwrap_err().to_string();
    assert!(msg.contains("/nonexistent/ggml.bin"), "{msg}");
}

#[test]
fn silence_gives_little_or_no_text() {
    let local = LocalRecognizer::start(config()).unwrap();
    let t = local
        .transcribe_blocking(&AudioClip::new(vec![0; 32_000]))
        .unwrap();
    // The no-speech threshold and token cap keep silence from turning into
    // a long hallucination.
    assert!(
        t.text().split_whitespace().count() <= 6,
        "heard {:?}",
        t.text()
    );
}

#[test]
fn repetitive_input_ends_within_the_token_cap_and_round_cap() {
    let local = LocalRecognizer::start(config()).unwrap();
    // The shapes that send a decoder into a loop: one word over and over,
    // and a buzz repeated with gaps (a line fault), each 8 seconds.
    let mut words = danish(&["pas"; 16].join(" "), asr::SAMPLE_RATE);
    words.resize(8 * asr::SAMPLE_RATE as usize, 0);
    let buzz: Vec<i16> = (0..8 * asr::SAMPLE_RATE as usize)
        .map(|i| {
            if i % 4_000 < 1_600 {
                ((i * 7_919 % 4_001) as i32 - 2_000) as i16 * 4
            } else {
                0
            }
        })
        .collect();
    for samples in [words, buzz] {
        let t = local.transcribe_blocking(&AudioClip::new(samples)).unwrap();
        // One decoding plus at most the default two fallback rounds.
        assert!((1..=3).contains(&t.decodes), "{t:?}");
        // The cap for 8 s is 16 + 8 × 8 = 80 tokens; a word is at least
        // one token, and runs repeated more than three times are cut.
        let n = t.text().split_whitespace().count();
        assert!(n <= 80, "{n} words: {:?}", t.text());
        assert!(
            !t.text().to_lowercase().contains("pas pas pas pas"),
            "heard {:?}",
            t.text()
        );
    }
}

#[test]
fn fallback_off_decodes_once() {
    let mut c = config();
    c.temperature_step = 0.0;
    let local = LocalRecognizer::start(c).unwrap();
    let mut words = danish(&["pas"; 16].join(" "), asr::SAMPLE_RATE);
    words.resize(8 * asr::SAMPLE_RATE as usize, 0);
    let t = local.transcribe_blocking(&AudioClip::new(words)).unwrap();
    assert_eq!(t.decodes, 1);
}
