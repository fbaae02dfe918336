//! Outbound requests never go through a proxy named in the environment: a proxy resolves the
//! name itself, where the address policy checks nothing. (A test binary of its own: it sets the
//! process's environment.)

use credledger_adapters::outbound::OutboundPolicy;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A loopback listener answering every connection with `200 direct`; counts the connections.
async fn listener() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("its address").port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let _ = socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\ndirect",
                )
                .await;
        }
    });
    (port, count)
}

#[tokio::test]
async fn a_proxy_named_in_the_environment_is_not_used() {
    let (proxy_port, proxied) = listener().await;
    let (target_port, direct) = listener().await;
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::set_var(name, &proxy);
    }
    for name in ["NO_PROXY", "no_proxy"] {
        std::env::remove_var(name);
    }
    let policy = OutboundPolicy {
        allow_loopback: true,
        ..OutboundPolicy::default()
    };
    let client = policy.client_builder().build().expect("a client");
    let answer = client
        .get(format!("http://localhost:{target_port}/"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.text().await.expect("a body"), "direct");
    assert_eq!(direct.load(Ordering::SeqCst), 1);
    assert_eq!(
        proxied.load(Ordering::SeqCst),
        0,
        "the request went through the proxy"
    );
}
