//! `clearledger-node`: the replicated ledger service (being built; see the README).

fn main() {
    eprintln!("clearledger-node: not yet runnable");
    std::process::exit(2);
}
