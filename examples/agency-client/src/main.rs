//! An example agency client (issue #5 grows it).

fn main() {
    println!("agency-client {}", env!("CARGO_PKG_VERSION"));
}
