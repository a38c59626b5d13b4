//! The hostile HTTP/2 servers on their own, to try by hand: prints each mode's address.
fn main() {
    let h = regpeek_lab::hostile_h2::HostileH2::start().expect("starting the servers");
    for m in regpeek_lab::hostile_h2::MODES {
        println!("{m} {}", h.addr(m));
    }
    std::thread::sleep(std::time::Duration::from_secs(600));
}
