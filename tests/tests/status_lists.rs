//! Token Status List entries against a real DynamoDB-compatible server: allocation under
//! concurrent registrations.

use std::collections::HashSet;

use futures_util::stream::{self, StreamExt};
use signoff_store::status_lists::StatusEntry;
use signoff_tests::db::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_allocations_never_share_an_entry_and_fill_lists_in_order() {
    let db = TestDb::start().await;
    let capacity = 1_024;
    // 200 allocations of 1 to 25 entries, 16 at a time: about 2,600 entries, so the
    // allocator moves through three lists while callers race.
    let counts: Vec<u64> = (0..200).map(|i| 1 + (i * 7) % 25).collect();
    let wanted: u64 = counts.iter().sum();
    let allocations: Vec<Vec<StatusEntry>> = stream::iter(counts.clone())
        .map(|count| {
            let store = db.store.clone();
            async move {
                store
                    .allocate_status_entries("100", count, capacity)
                    .await
                    .expect("an allocation succeeds")
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut seen = HashSet::new();
    for entries in &allocations {
        // One allocation: consecutive entries of one list.
        assert!(entries
            .windows(2)
            .all(|w| w[1].list == w[0].list && w[1].index == w[0].index + 1));
        for entry in entries {
            assert!(entry.index < capacity, "{entry:?}");
            assert!(seen.insert(*entry), "{entry:?} handed out twice");
        }
    }
    assert_eq!(seen.len() as u64, wanted);
    let lists: HashSet<u64> = seen.iter().map(|e| e.list).collect();
    assert!(lists.len() >= 3, "{lists:?}");
    assert_eq!(lists, (0..lists.len() as u64).collect::<HashSet<_>>());
    // Another tenant's allocator is its own.
    let other = db
        .store
        .allocate_status_entries("200", 3, capacity)
        .await
        .unwrap();
    assert_eq!(
        other,
        (0..3)
            .map(|index| StatusEntry { list: 0, index })
            .collect::<Vec<_>>()
    );
}
