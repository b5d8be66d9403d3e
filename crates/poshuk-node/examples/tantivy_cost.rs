#![allow(clippy::unwrap_used)]
use tantivy::schema::*;
use tantivy::*;
fn main() {
    let variant = std::env::args().nth(1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut b = Schema::builder();
    let blob = b.add_bytes_field("blob", BytesOptions::default().set_fast());
    let stored = b.add_bytes_field("stored", STORED);
    let block = b.add_u64_field("block", INDEXED);
    let freq = b.add_bytes_field("freq", INDEXED);
    let key = b.add_u64_field("key", NumericOptions::default().set_indexed().set_fast());
    let index = Index::create_in_dir(dir.path(), b.build()).unwrap();
    let mut w: IndexWriter = index.writer_with_num_threads(1, 200_000_000).unwrap();
    let mut state: u64 = 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let t = std::time::Instant::now();
    for i in 0..100_000u64 {
        let mut d = TantivyDocument::new();
        let bytes: Vec<u8> = (0..900).map(|_| next() as u8).collect();
        if variant.contains('b') {
            d.add_bytes(blob, &bytes);
        }
        if variant.contains('s') {
            d.add_bytes(stored, &bytes);
        }
        if variant.contains('k') {
            for _ in 0..40 {
                d.add_u64(block, next() % 5_000_000);
            }
        }
        if variant.contains('f') {
            for _ in 0..10 {
                d.add_bytes(freq, &(next() % 50_000).to_be_bytes());
            }
        }
        d.add_u64(key, i);
        w.add_document(d).unwrap();
    }
    let added = t.elapsed();
    w.commit().unwrap();
    println!("{variant}: add {:?} total {:?}", added, t.elapsed());
}
