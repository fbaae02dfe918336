use clap::Parser as _;

// The read paths allocate many small strings per row and per GraphQL field; glibc's allocator
// showed up as a fifth of the dashboard's CPU time (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = credledger::cli::Cli::parse();
    credledger::cli::init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("credledger: could not start the async runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    runtime.block_on(credledger::cli::run(cli))
}
