//! The store end to end without R: synthetic files loaded, finalised, indexed, read back.
use doodles_store::batch;
use doodles_store::db::Connection;
use doodles_store::load::{self, FileStatus, LoadOptions, Loader, Target};
use doodles_store::open_database;
use doodles_store::source::list_sources;
use doodles_store::synthetic::{make_synthetic, SyntheticFiles};

/// Synthetic files of `n` drawings of `classes` words in a folder of their own, and a connection
/// to a new in-memory database with the store's tables.
fn synthetic_store(name: &str, n: u64, classes: usize) -> (std::path::PathBuf, SyntheticFiles, Connection) {
    let dir = std::env::temp_dir().join(format!("doodles-{name}-{}", std::process::id()));
    let files = make_synthetic(&dir, n, classes, 10, 9, &[]).unwrap();
    let conn = open_database(":memory:", name, false).unwrap().connect().unwrap();
    load::ensure_schema(&conn).unwrap();
    (dir, files, conn)
}

#[test]
fn synthetic_files_load_index_and_read_back() {
    let (dir, files, conn) = synthetic_store("store-test", 2000, 5);
    let sources = list_sources(&files.train).unwrap();
    assert_eq!(sources.len(), 5);
    let options = LoadOptions { threads: 2, ..LoadOptions::default() };
    let mut loader = Loader::new(sources.clone(), Target::Train, options);
    while let Some(outcome) = loader.load_next(&conn).unwrap() {
        assert_eq!((outcome.status, outcome.rows), (FileStatus::Loaded, 400));
    }
    // Again: every file is recognised by name, size and CRC-32 and skipped.
    for source in &sources {
        let mut again = Loader::new(vec![source.clone()], Target::Train, options);
        assert_eq!(again.load_next(&conn).unwrap().map(|outcome| outcome.status), Some(FileStatus::Skipped));
    }
    load::finalize(&conn).unwrap();
    load::finalize(&conn).unwrap();
    let (rows, labels): (i64, i64) = conn
        .query_row("SELECT count(*), count(DISTINCT label_int) FROM doodles", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((rows, labels), (2000, 5));

    let ids: Vec<i64> = vec![1, 2000, 777, 777, 42];
    let (drawings, labels) = batch::read(&conn, &ids).unwrap();
    for ((id, drawing), label) in ids.iter().zip(&drawings).zip(&labels) {
        let (want, want_label): (String, i32) = conn
            .query_row("SELECT drawing, label_int FROM doodles WHERE id = ?", [id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((drawing, label), (&want, &want_label));
    }
    assert!(batch::read(&conn, &[2001]).is_err());
    // A write is seen by the next read, however it is made.
    conn.execute("UPDATE doodles SET drawing = '[[[1], [2]]]' WHERE id = 777", []).unwrap();
    assert_eq!(batch::read(&conn, &[777]).unwrap().0, vec!["[[[1], [2]]]".to_string()]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The connection's own methods are the only way to DuckDB, and each counts its writes: the
/// index follows a write made in a batch of statements that starts with a SELECT, and the user's
/// open transaction is neither committed by the index nor entered by a load.
#[test]
fn writes_are_seen_and_transactions_respected() {
    let (dir, files, conn) = synthetic_store("store-tx", 300, 3);
    let sources = list_sources(&files.train).unwrap();
    let mut loader = Loader::new(sources, Target::Train, LoadOptions::default());
    while loader.load_next(&conn).unwrap().is_some() {}
    load::finalize(&conn).unwrap();
    assert_eq!(batch::read(&conn, &[5]).unwrap().1.len(), 1);

    doodles_store::query::run(&conn, "SELECT 1; UPDATE doodles SET drawing = '[[[3], [4]]]' WHERE id = 5", None)
        .unwrap();
    assert_eq!(batch::read(&conn, &[5]).unwrap().0, vec!["[[[3], [4]]]".to_string()]);

    // In the user's transaction: the index is built inside it (its uncommitted row is seen) and
    // the transaction stays open, to be rolled back.
    conn.execute_batch("BEGIN TRANSACTION").unwrap();
    conn.execute("UPDATE doodles SET drawing = '[[[5], [6]]]' WHERE id = 5", []).unwrap();
    assert_eq!(batch::read(&conn, &[5]).unwrap().0, vec!["[[[5], [6]]]".to_string()]);
    assert!(conn.in_transaction().unwrap());
    let mut inside = Loader::new(list_sources(&files.test).unwrap(), Target::Test, LoadOptions::default());
    let refused = inside.load_next(&conn).unwrap_err();
    assert_eq!(refused.kind(), doodles_store::ErrorKind::Argument);
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(batch::read(&conn, &[5]).unwrap().0, vec!["[[[3], [4]]]".to_string()]);

    // A column of another type is an error of the index when it is rebuilt, not a panic.
    conn.execute_batch("ALTER TABLE doodles ALTER id TYPE BIGINT").unwrap();
    conn.execute("UPDATE doodles SET drawing = '[[[7], [8]]]' WHERE id = 5", []).unwrap();
    let err = batch::read(&conn, &[1]).unwrap_err();
    assert_eq!(err.kind(), doodles_store::ErrorKind::Index);
    assert!(err.message().contains("doodles.id has type Int64, expected INTEGER"), "{}", err.message());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Batches with mirror flags per drawing go through the same render-ahead as plain ones: a batch
/// rendered ahead is used only for the same ids, flags and options, and equals a fresh render.
#[test]
fn batches_mirrored_one_by_one_are_rendered_ahead_like_plain_ones() {
    use doodles_raster::{Encoding, Output, RenderOptions};
    let (dir, files, conn) = synthetic_store("store-mirror", 400, 4);
    let options = LoadOptions { threads: 2, ..LoadOptions::default() };
    let mut loader = Loader::new(list_sources(&files.train).unwrap(), Target::Train, options);
    while loader.load_next(&conn).unwrap().is_some() {}
    load::finalize(&conn).unwrap();
    let options = RenderOptions::new(16, Encoding::Gray, 2.0, false).unwrap();
    let ids: Vec<i64> = vec![3, 300, 17, 42];
    let flags = vec![true, false, false, true];
    let render = |next: &mut batch::NextBatch, mirror: &[bool], options: &RenderOptions| {
        let mut out = vec![0u8; ids.len() * options.values_per_drawing()];
        batch::render(&conn, next, &ids, mirror, options, 2, Output::Uint8(&mut out)).unwrap();
        out
    };
    let fresh = render(&mut batch::NextBatch::default(), &flags, &options);
    let plain = render(&mut batch::NextBatch::default(), &[], &options);
    let per_drawing = options.values_per_drawing();
    for (i, &flag) in flags.iter().enumerate() {
        let range = i * per_drawing..(i + 1) * per_drawing;
        assert_eq!(fresh[range.clone()] != plain[range], flag, "drawing {i}");
    }
    // All flags set is the options' mirror.
    assert_eq!(
        render(&mut batch::NextBatch::default(), &[true; 4], &options),
        render(&mut batch::NextBatch::default(), &[], &options.with_mirror(true))
    );
    let layout = Output::Uint8(&mut []).layout();
    for ahead_flags in [flags.clone(), vec![false, true, true, false], Vec::new()] {
        let mut next = batch::NextBatch::default();
        batch::start_prefetch(&conn, &mut next, &ids, &ahead_flags, &options, layout, 2).unwrap();
        assert_eq!(render(&mut next, &flags, &options), fresh);
    }
    let mut out = vec![0u8; ids.len() * per_drawing];
    let err =
        batch::render(&conn, &mut batch::NextBatch::default(), &ids, &[true], &options, 2, Output::Uint8(&mut out))
            .unwrap_err();
    assert!(err.message().contains("1 mirror flags for 4 drawings"), "{}", err.message());
    std::fs::remove_dir_all(&dir).unwrap();
}
