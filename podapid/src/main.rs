//! The `podapid` command line, mirroring `podman [global flags] system service`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use api_core::{AnyListener, ListenAddr};
use clap::{Parser, Subcommand};
use podapid::DaemonConfig;

const DEFAULT_URI: &str = "unix:///run/podapid/podapid.sock";

#[derive(Parser, Debug)]
#[command(
    name = "podapid",
    // `--version` prints "podapid version X (Podman API 4.9.5)", like `podman version X`.
    version = concat!("version ", env!("CARGO_PKG_VERSION"), " (Podman API 4.9.5)"),
    about = "Serve the Podman v4 REST API (Docker-compatible and libpod) over a real container engine"
)]
struct Cli {
    /// Path to the root directory in which data is stored
    #[arg(
        long,
        global = true,
        default_value = "/var/lib/podapid",
        env = "PODAPID_ROOT"
    )]
    root: PathBuf,
    /// Path to the directory in which run state is stored
    #[arg(
        long,
        global = true,
        default_value = "/run/podapid",
        env = "PODAPID_RUNROOT"
    )]
    runroot: PathBuf,
    /// Log messages at and above this level (debug, info, warn, error)
    #[arg(long, global = true, default_value = "warn")]
    log_level: String,
    /// Log format: text or json
    #[arg(long, global = true, default_value = "text")]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run API service
    #[command(
        alias = "system-service",
        long_about = SERVICE_LONG,
        override_usage = "podapid service [options] [URI]",
        after_help = SERVICE_EXAMPLES
    )]
    Service(ServiceArgs),
    /// Manage podapid (`podapid system service` is `podapid service`)
    System {
        #[command(subcommand)]
        command: SystemCommand,
    },
}

#[derive(Subcommand, Debug)]
enum SystemCommand {
    /// Run API service
    #[command(
        long_about = SERVICE_LONG,
        override_usage = "podapid system service [options] [URI]",
        after_help = SERVICE_EXAMPLES
    )]
    Service(ServiceArgs),
}

const SERVICE_LONG: &str = "Run an API service

Enable a listening service for API access to containers, pods, images, networks, volumes and secrets through the Podman v4 API (libpod) and the Docker-compatible API.

URI is unix:///path or tcp://host:port (default: unix:///run/podapid/podapid.sock). Under systemd socket activation (LISTEN_FDS) the passed socket is used instead.";

const SERVICE_EXAMPLES: &str = "Examples:
  podapid service --time=0 unix:///tmp/podapid.sock
  podapid service --time=0 tcp://localhost:8888
  podapid service --time=0 --pprof-addr 6060";

#[derive(clap::Args, Debug)]
struct ServiceArgs {
    /// Where to listen: unix:///path or tcp://host:port
    uri: Option<String>,
    /// Time until the service session expires in seconds. Use 0 to disable the timeout
    #[arg(short = 't', long = "time", default_value_t = 5)]
    time: u64,
    /// Set CORS Headers
    #[arg(long)]
    cors: Option<String>,
    /// Serve metrics and profiles on this separate address: PORT (on 127.0.0.1) or
    /// HOST:PORT (off by default)
    #[arg(long = "pprof-addr", value_name = "ADDR")]
    pprof_addr: Option<String>,
    /// PEM file with the server's certificate chain, for a tcp:// URI
    #[arg(long = "tls-cert", value_name = "PATH")]
    tls_cert: Option<PathBuf>,
    /// PEM file with the server's private key, for a tcp:// URI
    #[arg(long = "tls-key", value_name = "PATH")]
    tls_key: Option<PathBuf>,
    /// PEM file with the CA certificates client certificates must chain to (client
    /// certificates are then required)
    #[arg(long = "tls-client-ca", value_name = "PATH")]
    tls_client_ca: Option<PathBuf>,
}

/// The TLS files, checked for consistency with the listen address.
fn tls_files(args: &ServiceArgs, tcp: bool) -> anyhow::Result<Option<api_core::tls::TlsFiles>> {
    match (&args.tls_cert, &args.tls_key) {
        (None, None) => {
            if args.tls_client_ca.is_some() {
                anyhow::bail!("--tls-client-ca needs --tls-cert and --tls-key");
            }
            Ok(None)
        }
        (Some(cert), Some(key)) => {
            if !tcp {
                anyhow::bail!("--tls-cert/--tls-key apply to tcp:// listeners only");
            }
            Ok(Some(api_core::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.tls_client_ca.clone(),
            }))
        }
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    }
}

fn init_logs(level: &str, format: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PODAPID_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .context("bad --log-level")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        "json" => builder.json().init(),
        "text" => builder.init(),
        other => anyhow::bail!("unknown --log-format {other:?} (text or json)"),
    }
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return futures_pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}

async fn futures_pending() {
    std::future::pending::<()>().await
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logs(&cli.log_level, &cli.log_format)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::env::var("PODAPID_WORKERS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2),
        )
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        match cli.command {
            Command::Service(args)
            | Command::System {
                command: SystemCommand::Service(args),
            } => {
                let pprof = match &args.pprof_addr {
                    Some(a) => {
                        let addr = podapid::debug::parse_addr(a).map_err(anyhow::Error::msg)?;
                        let l = std::net::TcpListener::bind(addr)
                            .with_context(|| format!("listening on {addr} (--pprof-addr)"))?;
                        Some(std::sync::Arc::new(l))
                    }
                    None => None,
                };
                let with_tls = args.tls_cert.is_some();
                let (listener, uri) = match AnyListener::from_systemd().context("socket activation")? {
                    Some(l) => (l, args.uri.clone().unwrap_or_else(|| "systemd-socket".into())),
                    None => {
                        let uri = args.uri.clone().unwrap_or_else(|| DEFAULT_URI.to_string());
                        let addr = ListenAddr::parse(&uri).map_err(anyhow::Error::msg)?;
                        if let ListenAddr::Tcp(a) = &addr {
                            let loopback = a.starts_with("127.") || a.starts_with("localhost:") || a.starts_with("[::1]");
                            if !loopback && !with_tls {
                                tracing::warn!("serving the API on {a} over plain TCP without TLS: anyone who can reach it controls this host");
                            }
                            if !loopback && with_tls && args.tls_client_ca.is_none() {
                                tracing::warn!("serving the API on {a} over TLS without --tls-client-ca: anyone who can reach it controls this host");
                            }
                        }
                        let l = AnyListener::bind(&addr)
                            .await
                            .with_context(|| format!("listening on {uri}"))?;
                        (l, addr.uri())
                    }
                };
                let tls = tls_files(&args, matches!(listener, AnyListener::Tcp(_)))?;
                let config = DaemonConfig {
                    root: cli.root,
                    runroot: cli.runroot,
                    uri: Some(uri),
                    idle: Duration::from_secs(args.time),
                    cors: args.cors.clone(),
                    extra_conf: Vec::new(),
                    pprof,
                    tls,
                };
                podapid::serve(config, listener, shutdown_signal()).await
            }
        }
    })
}
