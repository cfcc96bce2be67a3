//! The endpointer on synthesised Danish telephone speech.

use asr::{EndReason, EndpointEvent, Endpointer, EndpointerConfig};

use crate::speech::danish;

/// Low line noise (deterministic) at 8 kHz.
fn line_noise(ms: u32, seed: &mut u32) -> Vec<i16> {
    (0..8 * ms)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 17;
            *seed ^= *seed << 5;
            ((*seed % 400) as i32 - 200) as i16
        })
        .collect()
}

#[test]
fn two_spoken_sentences_are_two_utterances() {
    let mut seed = 17;
    let mut audio = line_noise(800, &mut seed);
    let first = danish("jeg skal have fornyet mit pas", 8_000);
    let second = danish("hvornår har borgerservice åbent", 8_000);
    let mix = |a: &mut Vec<i16>, speech: &[i16], seed: &mut u32| {
        let noise = line_noise((speech.len() / 8) as u32 + 1, seed);
        a.extend(speech.iter().zip(noise).map(|(s, n)| s.saturating_add(n)));
    };
    mix(&mut audio, &first, &mut seed);
    audio.extend(line_noise(1500, &mut seed));
    mix(&mut audio, &second, &mut seed);
    audio.extend(line_noise(1500, &mut seed));

    let mut ep = Endpointer::new(EndpointerConfig::default());
    let events: Vec<EndpointEvent> = audio.chunks(160).flat_map(|c| ep.push(c)).collect();
    let utterances: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            EndpointEvent::Utterance { samples, reason } => {
                assert_eq!(*reason, EndReason::Silence);
                Some(samples.len())
            }
            _ => None,
        })
        .collect();
    assert_eq!(utterances.len(), 2, "{events:?}");
    // Each utterance covers its sentence (espeak's own leading/trailing
    // quiet may be trimmed; the hangover is added).
    for (got, spoken) in utterances.iter().zip([first.len(), second.len()]) {
        assert!(
            *got as f64 > spoken as f64 * 0.7,
            "{got} samples for {spoken}"
        );
        assert!(*got < spoken + 8 * 1200, "{got} samples for {spoken}");
    }
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == EndpointEvent::SpeechStarted)
            .count(),
        2
    );
}
