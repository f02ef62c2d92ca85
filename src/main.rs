fn main() -> std::process::ExitCode {
    mailplane::cli::run().into()
}
