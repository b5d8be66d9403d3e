//! Conversions between the matching core's types and the wire types: the
//! protocol crate does not know the core (so the coordinator links no
//! tokenizer), and the node is where both meet.

use std::time::Instant;

use poshuk_core::{BirthDate, Record, Sex};
use poshuk_protocol::{Band, Handle, RawRecord, SearchHit, SearchResponse};

use crate::index::SearchOutcome;

/// The core record of a raw record from the local API (taken by value: no
/// copy of the strings). An unreadable date is dropped: the reader that built
/// the raw record already warned about it.
pub fn record_from_wire(raw: RawRecord) -> Record {
    Record {
        sex: Sex::parse(&raw.sex),
        birth_date: BirthDate::parse(&raw.birth_date).ok(),
        record_id: raw.record_id,
        given_name: raw.given_name,
        family_name: raw.family_name,
        patronymic: raw.patronymic,
        other_names: raw.other_names,
        birth_place: raw.birth_place,
        document_ids: raw.document_ids,
    }
}

/// The raw record to send to the local API.
pub fn record_to_wire(record: &Record) -> RawRecord {
    RawRecord {
        record_id: record.record_id.clone(),
        given_name: record.given_name.clone(),
        family_name: record.family_name.clone(),
        patronymic: record.patronymic.clone(),
        other_names: record.other_names.clone(),
        sex: record.sex.code().to_string(),
        birth_date: record
            .birth_date
            .map(|date| date.to_iso())
            .unwrap_or_default(),
        birth_place: record.birth_place.clone(),
        document_ids: record.document_ids.clone(),
    }
}

/// The wire band of a scoring band.
pub fn band_to_wire(band: poshuk_core::Band) -> Band {
    match band {
        poshuk_core::Band::Strong => Band::Strong,
        poshuk_core::Band::Possible => Band::Possible,
        poshuk_core::Band::Weak => Band::Weak,
        poshuk_core::Band::Relative => Band::Relative,
    }
}

/// A node's answer: handles, scores rounded to four decimals, bands and the
/// names of the agreeing fields.
pub fn hits_response(outcome: SearchOutcome, started: Instant) -> SearchResponse {
    SearchResponse {
        hits: outcome
            .hits
            .into_iter()
            .map(|hit| SearchHit {
                handle: Handle(hit.handle),
                score: (hit.score.probability * 10_000.0).round() / 10_000.0,
                band: band_to_wire(hit.score.band),
                agreeing: hit
                    .score
                    .agreeing_fields()
                    .iter()
                    .map(|field| field.name().to_string())
                    .collect(),
                fields: hit
                    .score
                    .fields
                    .iter()
                    .map(|field| poshuk_protocol::FieldLevel {
                        field: field.field.name().to_string(),
                        level: field.level.name().to_string(),
                    })
                    .collect(),
                namesakes: hit.namesakes.map(poshuk_protocol::Namesakes::of),
            })
            .collect(),
        candidates: outcome.candidates,
        took_ms: started.elapsed().as_millis() as u64,
    }
}

/// A node's answer as it leaves for the federation: only possible and
/// strong hits (a weak hit tells an enumerating partner that a token of its
/// query exists here, and helps no searcher), each score cut to its tenth
/// (the band and rank are what a searcher needs; four decimals would let
/// another partner measure each field's weight), and the agreeing fields
/// only when the owner's config shares them. The number of candidates
/// re-ranked is not sent: it is the size of the blocks the query's tokens
/// met, how common those names are in this list.
pub fn for_the_federation(
    mut response: SearchResponse,
    share_agreeing_fields: bool,
) -> SearchResponse {
    response.hits.retain(|hit| hit.band != Band::Weak);
    response.candidates = 0;
    for hit in &mut response.hits {
        hit.score = (hit.score * 10.0).floor() / 10.0;
        if !share_agreeing_fields {
            hit.agreeing.clear();
            hit.fields.clear();
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_records_round_trip_through_the_core() {
        let raw = RawRecord {
            record_id: "C-1".into(),
            given_name: "Олександр".into(),
            family_name: "Коваленко".into(),
            patronymic: "Іванович".into(),
            other_names: vec!["Петренко".into()],
            sex: "M".into(),
            birth_date: "2011-04-03".into(),
            birth_place: "Маріуполь".into(),
            document_ids: vec!["I-БК 123456".into()],
        };
        assert_eq!(record_to_wire(&record_from_wire(raw.clone())), raw);
        let unreadable = RawRecord {
            birth_date: "someday".into(),
            ..raw
        };
        assert_eq!(record_from_wire(unreadable).birth_date, None);
    }

    #[test]
    fn bands_keep_their_names_on_the_wire() {
        for band in [
            poshuk_core::Band::Strong,
            poshuk_core::Band::Possible,
            poshuk_core::Band::Weak,
        ] {
            assert_eq!(band_to_wire(band).name(), band.name());
        }
    }
}
