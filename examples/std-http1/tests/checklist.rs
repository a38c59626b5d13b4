//! The core's "Writing a driver" checklist and this driver stay in step: every item
//! of the checklist is cited by the driver (`item N`), and the driver cites no item
//! that is not there. (`tests/lab.rs` shows the items at work.)

#[test]
fn the_driver_cites_every_item_of_the_checklist() {
    let docs = include_str!("../../../crates/regpeek-proto/src/lib.rs");
    let driver = include_str!("../src/lib.rs");
    let section = docs
        .split("//! # Writing a driver")
        .nth(1)
        .expect("the core's docs have a \"Writing a driver\" section");
    let items: Vec<u32> = section
        .lines()
        .skip(1)
        .map_while(|l| l.strip_prefix("//!"))
        .filter_map(|l| {
            let (n, rest) = l.trim_start().split_once(". ")?;
            rest.starts_with("**").then(|| n.parse().ok()).flatten()
        })
        .collect();
    assert_eq!(items, (1..=10).collect::<Vec<_>>(), "the checklist's items");
    for n in &items {
        assert!(
            driver.contains(&format!("item {n}")) || driver.contains(&format!("Item {n}")),
            "the driver does not cite checklist item {n}"
        );
    }
    for n in 11..20 {
        assert!(
            !driver.contains(&format!("item {n}")),
            "item {n} is not in the checklist"
        );
    }
}
