//! The index through segments, merges, tokenizer versions and erasure.

mod round_trip {
    use super::super::*;
    use poshuk_core::{KeyRing, Record, Tokenizer};

    pub(super) fn tokenizer() -> Tokenizer {
        let ring = KeyRing::with_key([1; 32]);
        Tokenizer::new(ring.hasher(Epoch(1)).expect("hasher"))
    }

    /// Small settings for tests: commit every record, one thread.
    pub(super) fn settings() -> IndexSettings {
        IndexSettings {
            new_index_epoch: Epoch(1),
            writer_memory_bytes: 20_000_000,
            max_candidates: 100,
            max_block_size: 100,
            commit_every_records: 1,
            indexing_threads: 1,
            commit_interval: std::time::Duration::from_secs(60),
            vault: None,
        }
    }

    pub(super) fn record(id: &str, given: &str, family: &str) -> Record {
        Record {
            record_id: id.into(),
            given_name: given.into(),
            family_name: family.into(),
            ..Record::default()
        }
    }

    /// Token records survive indexing, merging and reopening bit for bit.
    #[test]
    fn records_round_trip_through_segments_and_merges() {
        round_trip(settings());
    }

    /// The same in an encrypted index: and nothing tantivy wrote is
    /// readable without the vault.
    #[test]
    fn records_round_trip_through_an_encrypted_index() {
        let vault_dir = tempfile::tempdir().expect("tempdir");
        let key = crate::vault::StorageKey::new(b"a storage key for tests").expect("key");
        let vault = crate::vault::Vault::open_or_create(vault_dir.path(), &key).expect("vault");
        let settings = IndexSettings {
            vault: Some(std::sync::Arc::new(vault)),
            ..settings()
        };
        let dir = round_trip(settings);
        let index = dir.path().join("index");
        assert!(crate::index::is_sealed_index(&index));
        // Plain tantivy cannot open it.
        let plain = tantivy::directory::MmapDirectory::open(&index).expect("a directory");
        assert!(tantivy::Index::open(plain).is_err());
    }

    fn round_trip(settings: IndexSettings) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokenizer = tokenizer();
        let people = [
            ("1", "Олександр", "Коваленко"),
            ("2", "Марія", "Шевчук"),
            ("3", "Іван", "Бондар"),
        ];
        let mut expected = Vec::new();
        {
            let index = TokenIndex::open(dir.path(), &dir.path().join("index"), settings.clone())
                .expect("opens");
            for (id, given, family) in people {
                let tokens = tokenizer.tokenize(&record(id, given, family));
                expected.push(tokens.clone());
                index
                    .upsert(&[IndexRecord {
                        record_id: id.into(),
                        tokens,
                        handle: None,
                    }])
                    .expect("upserts");
            }
            assert_eq!(index.delete(&["2".to_string()]).expect("deletes"), (1, 0));
            index.compact().expect("compacts");
        }
        let index =
            TokenIndex::open(dir.path(), &dir.path().join("index"), settings).expect("reopens");
        assert_eq!(index.record_count(), 2);
        let mut seen = Vec::new();
        index
            .for_each_record(|handle, tokens| {
                assert!(expected.contains(&tokens), "a record changed on its way");
                seen.push(handle);
            })
            .expect("reads");
        assert_eq!(seen.len(), 2);
        let resolved = index.resolve(&seen[0]).expect("resolves");
        assert!(matches!(resolved.as_deref(), Some("1") | Some("3")));
        let query = tokenizer.tokenize(&record("q", "Alexander", "Kovalenko"));
        let found = index.search(&query, 5).expect("searches");
        assert_eq!(found.hits.len(), 1);
        assert_eq!(
            index
                .resolve(&found.hits[0].handle)
                .expect("resolves")
                .as_deref(),
            Some("1")
        );
        drop(index);
        dir
    }
}

mod tokenizer_version_tests {
    use super::super::*;

    /// An index made by an older tokenizer says so after a restart, until
    /// a full ingest marks its tokens current.
    #[test]
    fn the_index_remembers_which_tokenizer_made_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let open = || {
            TokenIndex::open(
                dir.path(),
                &dir.path().join("index"),
                super::round_trip::settings(),
            )
            .expect("opens")
        };
        {
            let index = open();
            assert_eq!(index.tokenizer_version(), poshuk_core::TOKENIZER_VERSION);
            // What an index of version 1 wrote: no tokenizer field.
            let mut writer = index.writer.lock().expect("writer");
            let mut prepared = writer.prepare_commit().expect("prepare");
            prepared.set_payload("{\"epoch\":1}");
            prepared.commit().expect("commit");
        }
        {
            // Its records are in a layout this build cannot read: set aside,
            // and searches refused until a full ingest.
            let index = open();
            assert_eq!(index.tokenizer_version(), 1);
            let Err(refused) = index.search(&TokenRecord::default(), 5) else {
                panic!("an index of stale tokens answered a search");
            };
            assert!(refused.to_string().contains("--replace"), "{refused}");
            assert!(dir.path().join("index.tokenizer-1/meta.json").exists());
            index.mark_tokens_current().expect("commits");
            assert!(!dir.path().join("index.tokenizer-1").exists());
        }
        assert_eq!(open().tokenizer_version(), poshuk_core::TOKENIZER_VERSION);
    }

    #[test]
    fn an_index_of_another_slot_layout_is_refused_not_misread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("index");
        let open = || TokenIndex::open(dir.path(), &path, super::round_trip::settings());
        {
            let index = open().expect("opens");
            let mut writer = index.writer.lock().expect("writer");
            let mut prepared = writer.prepare_commit().expect("prepare");
            let mut payload = CommitPayload::current(Epoch(1), poshuk_core::TOKENIZER_VERSION);
            if let Some(slots) = payload.slots.as_mut() {
                slots.swap(0, 1);
            }
            prepared.set_payload(&serde_json::to_string(&payload).expect("json"));
            prepared.commit().expect("commit");
        }
        let error = open().expect_err("another layout");
        assert!(error.to_string().contains("slot layout"), "{error}");
        assert!(path.join("meta.json").exists(), "left where it was");
        assert!(error.to_string().contains("--replace"), "{error}");
    }
}

mod erasure_tests {
    use super::super::*;
    use poshuk_core::{KeyRing, Record, Tokenizer};

    /// After a delete and a compaction, neither the inverted index nor the
    /// columns hold anything of the deleted record: its unique terms are gone
    /// from every term dictionary, and no segment keeps deleted documents.
    #[test]
    fn deleted_records_leave_no_terms_or_values() {
        let ring = KeyRing::with_key([2; 32]);
        let tokenizer = Tokenizer::new(ring.hasher(Epoch(1)).expect("hasher"));
        let dir = tempfile::tempdir().expect("tempdir");
        let index = TokenIndex::open(
            dir.path(),
            &dir.path().join("index"),
            super::round_trip::settings(),
        )
        .expect("opens");
        let people = [
            ("gone", "Зиновія", "Пшеничаківська", "Фортунатівна"),
            ("kept-1", "Олександр", "Коваленко", "Миколайович"),
            ("kept-2", "Марія", "Шевчук", "Петрівна"),
        ];
        let records: Vec<IndexRecord> = people
            .iter()
            .map(|(id, given, family, patronymic)| IndexRecord {
                record_id: id.to_string(),
                tokens: tokenizer.tokenize(&Record {
                    record_id: id.to_string(),
                    given_name: given.to_string(),
                    family_name: family.to_string(),
                    patronymic: patronymic.to_string(),
                    ..Record::default()
                }),
                handle: None,
            })
            .collect();
        index.upsert(&records).expect("upserts");
        let kept_tokens: std::collections::HashSet<Token> = records[1..]
            .iter()
            .flat_map(|r| r.tokens.iter().map(|(_, t)| t))
            .collect();
        let kept_keys: std::collections::HashSet<u64> = records[1..]
            .iter()
            .flat_map(|r| blocking_keys(&r.tokens))
            .map(|k| k.0)
            .collect();
        let gone_keys: Vec<u64> = blocking_keys(&records[0].tokens)
            .into_iter()
            .map(|k| k.0)
            .filter(|k| !kept_keys.contains(k))
            .collect();
        let gone_tokens: Vec<Token> = records[0]
            .tokens
            .iter()
            .map(|(_, t)| t)
            .filter(|t| !kept_tokens.contains(t))
            .collect();
        assert!(!gone_keys.is_empty() && !gone_tokens.is_empty());

        index.delete(&["gone".to_string()]).expect("deletes");
        index.compact().expect("compacts");

        let searcher = index.reader.searcher();
        for segment in searcher.segment_readers() {
            assert_eq!(
                segment.num_deleted_docs(),
                0,
                "a segment still holds deleted documents"
            );
            let blocks = segment
                .inverted_index(index.fields.block)
                .expect("block index");
            for key in &gone_keys {
                let term = Term::from_field_u64(index.fields.block, *key);
                assert!(
                    blocks
                        .terms()
                        .get(term.serialized_value_bytes())
                        .expect("lookup")
                        .is_none()
                );
            }
            let frequencies = segment
                .inverted_index(index.fields.frequency)
                .expect("frequency index");
            for token in &gone_tokens {
                assert!(
                    frequencies
                        .terms()
                        .get(token.0.to_be_bytes())
                        .expect("lookup")
                        .is_none()
                );
            }
        }
        let mut remaining = 0;
        index
            .for_each_record(|_, tokens| {
                remaining += 1;
                assert!(tokens.iter().all(|(_, t)| !gone_tokens.contains(&t)));
            })
            .expect("reads");
        assert_eq!(remaining, 2);
    }
}

mod variants {
    use super::super::*;
    use super::round_trip::{record, settings, tokenizer};

    /// Record `i` as a node stores it.
    fn stored(i: usize, tokens: poshuk_core::TokenRecord) -> IndexRecord {
        IndexRecord {
            record_id: format!("{i}"),
            tokens,
            handle: None,
        }
    }

    /// An index that retrieves every candidate a packed query asks for:
    /// what holds the query back is the node's filter, not these bounds.
    fn wide_index(dir: &tempfile::TempDir) -> TokenIndex {
        TokenIndex::open(
            dir.path(),
            &dir.path().join("index"),
            IndexSettings {
                max_candidates: 1000,
                max_block_size: 1000,
                commit_every_records: 100,
                ..settings()
            },
        )
        .expect("opens")
    }

    /// A query whose "one-edit variants" are in truth a hundred other
    /// surnames meets only the 64 a node keeps (`MAX_MEETING_VARIANTS`).
    #[test]
    fn a_query_packed_with_surnames_as_variants_meets_few() {
        use poshuk_core::{BirthDate, Slot, TokenRecord};
        let dir = tempfile::tempdir().expect("tempdir");
        let tokenizer = tokenizer();
        let index = wide_index(&dir);
        let mut families = Vec::new();
        let records: Vec<IndexRecord> = (0..100)
            .map(|i| {
                // Letters, not digits: a skeleton keeps only letters.
                let letters = ['б', 'в', 'д', 'з', 'к', 'л', 'м', 'н', 'п', 'р'];
                let family = format!("Гор{}а{}енко", letters[i / 10], letters[i % 10]);
                let mut person = record(&format!("{i}"), "Іван", &family);
                person.birth_date = BirthDate::parse(&format!("{}-01-01", 1900 + i)).ok();
                let tokens = tokenizer.tokenize(&person);
                families.extend(tokens.slot(Slot::FamilyWhole).iter().copied());
                stored(i, tokens)
            })
            .collect();
        index.upsert(&records).expect("upserts");
        let mut probe = record("q", "Іван", "Хтосьенко");
        probe.birth_date = BirthDate::parse("2010-01-01").ok();
        let honest = tokenizer.tokenize_query(&probe);
        let mut slots: Vec<(Slot, Vec<poshuk_core::Token>)> = Slot::ALL
            .iter()
            .filter(|slot| !matches!(slot, Slot::FamilyVariant))
            .map(|&slot| (slot, honest.slot(slot).to_vec()))
            .collect();
        slots.push((Slot::FamilyVariant, families));
        let packed = TokenRecord::from_slots(slots);
        let outcome = index.search(&packed, 1000).expect("searches");
        // A hundred stored surnames sent as variants: the first 64 meet.
        assert_eq!(outcome.hits.len(), 64);
    }

    /// A query whose family-name "forms" are in truth a hundred other
    /// surnames, sent as its variants too, against records kept without a
    /// date: each form kept makes its record a lead, shown, so a node keeps
    /// at most `MAX_MEETING_FORMS` of them, and no more than the query's
    /// name pairs leave room for; the other records it meets stay weak.
    #[test]
    fn a_query_packed_with_surnames_as_forms_shows_few() {
        use poshuk_core::{Band, BirthDate, Slot, Token, TokenRecord};
        let dir = tempfile::tempdir().expect("tempdir");
        let tokenizer = tokenizer();
        let index = wide_index(&dir);
        let letters = ['б', 'в', 'д', 'з', 'к', 'л', 'м', 'н', 'п', 'р'];
        let given_names = ["Іван", "Петро", "Богдан", "Тарас", "Остап"];
        let mut families = Vec::new();
        // A hundred Іван of a hundred surnames, kept without a date, in a
        // list of 4,000.
        let records: Vec<IndexRecord> = (0..4000)
            .map(|i| {
                // Each surname once.
                let family = format!(
                    "{}{}а{}енко",
                    [
                        "Гор", "Мир", "Сад", "Лан", "Бор", "Вир", "Дуб", "Жар", "Кар", "Лис"
                    ][i / 100 % 10],
                    letters[i / 10 % 10],
                    letters[i % 10]
                );
                let family = format!("{family}{}", ["", "ко", "ук", "ак"][i / 1000]);
                let person = record(&format!("{i}"), given_names[(i / 100).min(4)], &family);
                let tokens = tokenizer.tokenize(&person);
                if i < 100 {
                    families.extend(tokens.slot(Slot::FamilyWhole).iter().copied());
                }
                stored(i, tokens)
            })
            .collect();
        index.upsert(&records).expect("upserts");
        let packed_with = |given: &[&str]| {
            let mut slots: Vec<(Slot, Vec<Token>)> = Vec::new();
            for name in given {
                let mut probe = record("q", name, "Хтосьенко");
                probe.birth_date = BirthDate::parse("2010-01-01").ok();
                let honest = tokenizer.tokenize_query(&probe);
                for &slot in Slot::ALL {
                    if !matches!(slot, Slot::FamilyVariant | Slot::FamilyForm) {
                        slots.push((slot, honest.slot(slot).to_vec()));
                    }
                }
            }
            slots.push((Slot::FamilyVariant, families.clone()));
            slots.push((Slot::FamilyForm, families.clone()));
            TokenRecord::from_slots(slots)
        };
        let shown = |query: &TokenRecord| {
            let outcome = index.search(query, 1000).expect("searches");
            let shown = outcome
                .hits
                .iter()
                .filter(|hit| hit.score.band != Band::Weak)
                .count();
            (shown, outcome.hits.len())
        };
        let (leads, met) = shown(&packed_with(&["Іван"]));
        assert_eq!(met, 64, "the variants kept");
        assert_eq!(leads, super::super::read::MAX_MEETING_FORMS, "of {met} met");
        // More given names: the forms kept leave the name pairs (given
        // names × family names, the forms among them) at 24 at most.
        for given in [
            &given_names[..],
            &[
                "Іван",
                "Петро",
                "Богдан",
                "Тарас",
                "Остап",
                "Микола",
                "Степан",
            ][..],
        ] {
            let query = packed_with(given);
            let names = [Slot::GivenWhole, Slot::GivenClass, Slot::AliasClass]
                .iter()
                .map(|&slot| query.slot(slot).len())
                .sum::<usize>();
            let families = query.slot(Slot::FamilyWhole).len();
            let room = (24 / names).saturating_sub(families);
            assert!(
                room < super::super::read::MAX_MEETING_FORMS,
                "{names} names"
            );
            let (leads, _) = shown(&query);
            assert_eq!(leads, room, "{names} given names, {families} surnames");
        }
    }
}

mod namesakes {
    use super::super::*;
    use super::round_trip::{record, settings, tokenizer};
    use poshuk_core::{Band, BirthDate};

    /// A common name and a year: the few records of that year are leads
    /// (possible, at the odds their namesakes leave), the many of other
    /// years are weak. The leads come first and are not cut for weak hits
    /// of a higher probability.
    #[test]
    fn namesakes_of_the_year_searched_are_not_cut_for_namesakes_of_other_years() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokenizer = tokenizer();
        let index =
            TokenIndex::open(dir.path(), &dir.path().join("index"), settings()).expect("opens");
        let years = (1950..1970).chain([2010, 2010, 2010]);
        let records: Vec<IndexRecord> = years
            .enumerate()
            .map(|(i, year)| {
                let mut person = record(&format!("{i}"), "Олександр", "Коваленко");
                person.birth_date = BirthDate::parse(&year.to_string()).ok();
                IndexRecord {
                    record_id: format!("{i}"),
                    tokens: tokenizer.tokenize(&person),
                    handle: None,
                }
            })
            .collect();
        index.upsert(&records).expect("upserts");
        let mut query = record("q", "Александр", "Коваленко");
        query.birth_date = BirthDate::parse("2010").ok();
        let found = index
            .search(&tokenizer.tokenize_query(&query), 5)
            .expect("searches");
        let ids: Vec<Option<String>> = found
            .hits
            .iter()
            .map(|hit| index.resolve(&hit.handle).expect("resolves"))
            .collect();
        let bands: Vec<Band> = found.hits.iter().map(|hit| hit.score.band).collect();
        assert_eq!(
            &bands[..3],
            [Band::Possible; 3],
            "the three of 2010 first, shown: {ids:?} {bands:?}"
        );
        for id in &ids[..3] {
            let id: usize = id.as_deref().and_then(|id| id.parse().ok()).expect("an id");
            assert!(id >= 20, "a record of 2010, not {id}");
        }
        assert!(
            bands[3..].iter().all(|band| *band == Band::Weak),
            "other years are weak: {bands:?}"
        );
    }

    /// The order a node returns hits in: a lead for the person (possible,
    /// however low its namesakes hold it) before a relative, and both
    /// before weak hits of a higher probability (another year caps a rare
    /// name at 0.33), which never leave the node: the node cuts its answer
    /// to the limit in this order.
    #[test]
    fn leads_come_before_relatives_and_weak_hits_of_higher_probability() {
        let hit = |id: u8, probability: f64, band: Band| IndexHit {
            handle: [id; 16],
            score: poshuk_core::MatchScore {
                probability,
                band,
                fields: Vec::new(),
            },
            namesakes: None,
        };
        let mut hits = [
            hit(1, 0.33, Band::Weak),
            hit(2, 0.26, Band::Relative),
            hit(3, 0.14, Band::Possible),
            hit(4, 0.97, Band::Strong),
            hit(5, 0.2, Band::Possible),
        ];
        hits.sort_by(super::super::read::ranked);
        let order: Vec<u8> = hits.iter().map(|hit| hit.handle[0]).collect();
        assert_eq!(order, [4, 5, 3, 2, 1]);
    }
}
