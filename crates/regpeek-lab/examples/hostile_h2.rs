//! The hostile HTTP/2 servers on their own, to try by hand: prints each mode's address
//! (and, given a lab directory, the HTTP/1.1-only TLS server's, with its certificate).
fn main() {
    let tls = std::env::args().nth(1).map(|dir| {
        let read = |n: &str| std::fs::read(std::path::Path::new(&dir).join(n)).expect("a lab dir");
        (read("server.crt"), read("server.key"))
    });
    let h = regpeek_lab::hostile_h2::HostileH2::start_with_tls(
        tls.as_ref().map(|(c, k)| (c.as_slice(), k.as_slice())),
    )
    .expect("starting the servers");
    for m in regpeek_lab::hostile_h2::MODES {
        println!("{m} {}", h.addr(m));
    }
    if tls.is_some() {
        println!("http1-tls {}", h.http1_tls());
    }
    std::thread::sleep(std::time::Duration::from_secs(600));
}
