//! The store end to end without R: synthetic files loaded, finalised, indexed, read back.
use doodles_store::batch;
use doodles_store::db::open_database;
use doodles_store::load::{self, Target};
use doodles_store::source::list_sources;
use doodles_store::synthetic::make_synthetic;

#[test]
fn synthetic_files_load_index_and_read_back() {
    let dir = std::env::temp_dir().join(format!("doodles-store-test-{}", std::process::id()));
    let files = make_synthetic(&dir, 2000, 5, 10, 9).unwrap();
    let db = open_database(":memory:", "store-test", false).unwrap();
    let conn = db.connect().unwrap();
    load::ensure_schema(&conn).unwrap();
    let sources = list_sources(&files.train).unwrap();
    assert_eq!(sources.len(), 5);
    let mut session = load::LoadSession::default();
    for source in &sources {
        let outcome = load::load_file(&conn, source, Target::Train, false, 2, &mut session).unwrap();
        assert_eq!((outcome.status, outcome.rows), ("loaded", 400));
    }
    // Again: every file is recognised by name, size and CRC-32 and skipped.
    for source in &sources {
        let mut fresh = load::LoadSession::default();
        assert_eq!(load::load_file(&conn, source, Target::Train, false, 2, &mut fresh).unwrap().status, "skipped");
    }
    load::finalize(&conn).unwrap();
    load::finalize(&conn).unwrap();
    let (rows, labels): (i64, i64) = conn
        .conn
        .query_row("SELECT count(*), count(DISTINCT label_int) FROM doodles", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((rows, labels), (2000, 5));

    let ids: Vec<i64> = vec![1, 2000, 777, 777, 42];
    let (drawings, labels) = batch::read(&conn, &ids).unwrap();
    for ((id, drawing), label) in ids.iter().zip(&drawings).zip(&labels) {
        let (want, want_label): (String, i32) = conn
            .conn
            .query_row("SELECT drawing, label_int FROM doodles WHERE id = ?", [id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((drawing, label), (&want, &want_label));
    }
    assert!(batch::read(&conn, &[2001]).is_err());
    // A write is seen by the next read.
    conn.note_statement("UPDATE doodles SET drawing = '[[[1], [2]]]' WHERE id = 777");
    conn.conn.execute("UPDATE doodles SET drawing = '[[[1], [2]]]' WHERE id = 777", []).unwrap();
    assert_eq!(batch::read(&conn, &[777]).unwrap().0, vec!["[[[1], [2]]]".to_string()]);
    std::fs::remove_dir_all(&dir).unwrap();
}
