//! The tantivy index over the answers.
//!
//! Analysis happens in `analysis.rs`; tantivy receives pre-tokenised text,
//! so the index and the queries are guaranteed to use the same analysis and
//! no tokenizer has to be registered. One document per answer, plus one per
//! out-of-scope example (topic `none`), with a fast field pointing back at
//! the entry in memory.

use std::collections::HashSet;
use std::path::Path;

use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument};

use crate::analysis::Analyzer;
use crate::error::KnowledgeError;

/// The searchable fields, in the order of [`FIELD_BOOSTS`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub(crate) ord: Field,
    pub(crate) text: [Field; 4],
}

/// Field boosts: example questions, keywords (with the topic label),
/// title, and the chat text.
pub(crate) const FIELD_BOOSTS: [f32; 4] = [1.0, 1.0, 0.6, 0.25];

/// The texts of one indexed entry, field by field.
pub(crate) struct Entry<'a> {
    pub(crate) texts: [Vec<&'a str>; 4],
}

pub(crate) struct BuiltIndex {
    pub(crate) reader: IndexReader,
    pub(crate) fields: Fields,
    /// Every stem indexed for each entry, by entry number.
    pub(crate) entry_stems: Vec<HashSet<String>>,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let ord = b.add_u64_field("ord", FAST);
    let opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_index_option(IndexRecordOption::WithFreqs),
    );
    let text =
        ["questions", "keywords", "title", "body"].map(|n| b.add_text_field(n, opts.clone()));
    (b.build(), Fields { ord, text })
}

/// Builds the index in memory, or in `dir` when given (for size figures).
pub(crate) fn build(
    analyzer: &Analyzer,
    entries: &[Entry<'_>],
    dir: Option<&Path>,
) -> Result<BuiltIndex, KnowledgeError> {
    let (schema, fields) = schema();
    let index = match dir {
        Some(dir) => Index::create_in_dir(dir, schema)?,
        None => Index::create_in_ram(schema),
    };
    let mut writer: IndexWriter = index.writer_with_num_threads(1, 64 * 1024 * 1024)?;
    let mut entry_stems = Vec::with_capacity(entries.len());
    for (ord, entry) in entries.iter().enumerate() {
        let mut stems = HashSet::new();
        let mut doc = TantivyDocument::default();
        doc.add_u64(fields.ord, ord as u64);
        for (field, texts) in fields.text.iter().zip(&entry.texts) {
            let joined = texts.join("\n");
            let tokens = analyzer
                .analyze_document(&joined)
                .into_iter()
                .enumerate()
                .map(|(position, t)| {
                    stems.insert(t.stem.clone());
                    Token {
                        offset_from: 0,
                        offset_to: 0,
                        position,
                        text: t.stem,
                        position_length: 1,
                    }
                })
                .collect();
            doc.add_pre_tokenized_text(
                *field,
                PreTokenizedString {
                    text: String::new(),
                    tokens,
                },
            );
        }
        writer.add_document(doc)?;
        entry_stems.push(stems);
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    Ok(BuiltIndex {
        reader,
        fields,
        entry_stems,
    })
}
