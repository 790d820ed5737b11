//! The `clearledger` binary; everything happens in [`clearledger_cli::main`].

fn main() -> std::process::ExitCode {
    clearledger_cli::main()
}
