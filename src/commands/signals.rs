//! A server's life on the command line: where it listens, announced on
//! standard output, and a clean stop on Ctrl-C or SIGTERM.

/// Completes on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}

/// Prints where a node listens, one line on standard output, so that whoever
/// started it with port 0 in its config learns the ports:
/// `listening federation=URL local=URL`.
pub(crate) fn announce_listening_node(listening: &poshuk_node::Listening) {
    println!(
        "listening federation={} local={}",
        listening.federation, listening.local
    );
}

/// Prints where the coordinator listens: `listening URL`.
pub(crate) fn announce_listening_coordinator(url: &str) {
    println!("listening {url}");
}
