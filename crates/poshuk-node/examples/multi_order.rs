#![allow(clippy::unwrap_used)]
use tantivy::schema::*;
use tantivy::*;
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Schema::builder();
    let f = b.add_u64_field("v", NumericOptions::default().set_fast());
    let index = Index::create_in_dir(dir.path(), b.build()).unwrap();
    let mut w: IndexWriter = index.writer_with_num_threads(1, 50_000_000).unwrap();
    let mut state: u64 = 7;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut expected = vec![];
    for _ in 0..100_000 {
        let mut d = TantivyDocument::new();
        let vals: Vec<u64> = (0..60).map(|_| next()).collect();
        for v in &vals {
            d.add_u64(f, *v);
        }
        expected.push(vals);
        w.add_document(d).unwrap();
    }
    let t = std::time::Instant::now();
    w.commit().unwrap();
    println!("commit {:?}", t.elapsed());
    let r = index.reader().unwrap();
    let s = r.searcher();
    let seg = &s.segment_readers()[0];
    let col = seg.fast_fields().u64("v").unwrap();
    let got: Vec<u64> = col.values_for_doc(3).collect();
    println!("order preserved: {}", got == expected[3]);
    let t = std::time::Instant::now();
    let mut sum = 0u64;
    for i in 0..100_000u32 {
        let d = (i.wrapping_mul(2654435761)) % 100_000;
        for v in col.values_for_doc(d) {
            sum = sum.wrapping_add(v);
        }
    }
    println!("random access per doc {:?} ({sum})", t.elapsed() / 100_000);
    let bytes_dir: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!("bytes/doc {}", bytes_dir / 100_000);
}
