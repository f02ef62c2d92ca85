// mimalloc: a plan at 100,000 mailboxes makes millions of small allocations (issue 5).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mailplane::cli::run().into()
}
