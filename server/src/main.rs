use clap::Parser;
use server::cli::Cli;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    keep_large_allocations_out_of_the_heap();
    // Settings may also come from a `.env` file in the working directory; the real
    // environment wins over it.
    let dotenv = dotenvy::dotenv();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        // Logs go to stderr, so a command's own output on stdout stays clean to parse.
        // Colour only on a terminal: log files and collectors get plain text.
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = dotenv
        && !e.not_found()
    {
        eprintln!("error: .env: {e}");
        return ExitCode::FAILURE;
    }
    match Cli::parse().run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Each Argon2 hash allocates 19 MiB. glibc serves an allocation that large with mmap and
/// gives it back on free, but after the first such free it raises its mmap threshold
/// (up to 32 MiB), so later hash buffers come from per-thread heaps and stay resident:
/// hundreds of MB after a few thousand logins on a busy blocking pool. Pinning the
/// threshold keeps every hash buffer an mmap that is returned to the kernel at once.
#[allow(unsafe_code)]
fn keep_large_allocations_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt is thread-safe and only sets an allocator parameter; any value is
    // valid for this one.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
