//! A `graphql-transport-ws` client over a real WebSocket, for subscriptions and for sending the
//! edge what a hostile client would.

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Ws {
    stream: Stream,
}

/// What the server sent next.
#[derive(Debug)]
pub enum Received {
    Message(Value),
    /// The server closed the connection (with its close code, if it gave one).
    Closed(Option<u16>),
    /// Nothing within the wait.
    Nothing,
}

impl Ws {
    /// Connects to `address` (`host:port`) as the dashboard would (same origin), with an
    /// optional session cookie, and completes `connection_init` with `payload`.
    pub async fn connect(address: &str, cookie: Option<&str>, payload: Value) -> Ws {
        let mut request = format!("ws://{address}/graphql")
            .into_client_request()
            .unwrap();
        let headers = request.headers_mut();
        headers.insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        headers.insert("origin", format!("http://{address}").parse().unwrap());
        if let Some(cookie) = cookie {
            headers.insert("cookie", cookie.parse().unwrap());
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut ws = Ws { stream };
        ws.send(json!({"type": "connection_init", "payload": payload}))
            .await;
        match ws.recv(Duration::from_secs(10)).await {
            Received::Message(m) if m["type"] == "connection_ack" => ws,
            other => panic!("no connection_ack: {other:?}"),
        }
    }

    pub async fn send(&mut self, message: Value) {
        self.send_text(message.to_string()).await;
    }

    /// Sends raw text (which need not be JSON); a closed connection is not an error here.
    pub async fn send_text(&mut self, text: String) {
        let _ = self.stream.send(Message::text(text)).await;
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"id": id, "type": "subscribe",
            "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next message other than ping/pong and `complete`, the close, or nothing within `wait`.
    pub async fn answer(&mut self, wait: Duration) -> Received {
        loop {
            match self.recv(wait).await {
                Received::Message(m) if m["type"] == "complete" => continue,
                other => return other,
            }
        }
    }

    /// The next message other than ping/pong, the close, or nothing within `wait`.
    pub async fn recv(&mut self, wait: Duration) -> Received {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.stream.next()).await;
            match next {
                Err(_) => return Received::Nothing,
                Ok(None) | Ok(Some(Err(_))) => return Received::Closed(None),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Received::Closed(frame.map(|f| u16::from(f.code)))
                }
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] != "ping" && v["type"] != "pong" {
                        return Received::Message(v);
                    }
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}
