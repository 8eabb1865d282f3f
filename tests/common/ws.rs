//! A minimal blocking websocket client for tests (RFC 6455 framing by hand), so that tests
//! can misbehave on purpose: not answer pings, send broken frames, stop reading.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One websocket, after the `101`.
pub struct Ws(pub BufReader<TcpStream>);

/// A frame from the server: opcode and payload.
pub type Frame = (u8, Vec<u8>);

impl Ws {
    /// Opens a websocket on the node's HTTP port (read timeout: the guard against a hang).
    pub fn connect(addr: SocketAddr) -> Ws {
        Ws::try_connect(addr, Duration::from_secs(60)).unwrap_or_else(|e| panic!("websocket to {addr}: {e}"))
    }

    /// Opens a websocket, or says why not (a refused connection, a non-`101` answer); `guard`
    /// bounds the connect and every read. `TCP_NODELAY` is on, as a latency-minded client has it.
    pub fn try_connect(addr: SocketAddr, guard: Duration) -> Result<Ws, String> {
        let mut s = TcpStream::connect_timeout(&addr, guard).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(guard)).map_err(|e| e.to_string())?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        let req = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).map_err(|e| e.to_string())?;
        if !line.starts_with("HTTP/1.1 101") {
            return Err(format!("handshake answered {line:?}"));
        }
        loop {
            line.clear();
            r.read_line(&mut line).map_err(|e| e.to_string())?;
            if line == "\r\n" || line.is_empty() {
                return Ok(Ws(r));
            }
        }
    }

    /// A second handle on the same socket, so one thread can read while another writes.
    pub fn split(&self) -> Ws {
        Ws(BufReader::new(self.0.get_ref().try_clone().expect("clone the socket")))
    }

    /// Sends a normal close frame (1000) and drops the connection.
    pub fn close(mut self) {
        let _ = self.0.get_mut().write_all(&client_frame(8, &1000u16.to_be_bytes()));
    }

    /// Sends one masked frame.
    pub fn send_frame(&mut self, opcode: u8, payload: &[u8]) {
        self.0.get_mut().write_all(&client_frame(opcode, payload)).expect("send frame");
    }

    /// Sends a text message.
    pub fn send(&mut self, text: &str) {
        self.send_frame(1, text.as_bytes());
    }

    /// Reads one frame; `None` when the connection ended (or the guard timeout hit).
    pub fn read_frame(&mut self) -> Option<Frame> {
        read_frame(&mut self.0)
    }

    /// The next text message as JSON, answering pings on the way; panics if the connection
    /// ends first.
    pub fn recv(&mut self) -> serde_json::Value {
        loop {
            match self.read_frame() {
                Some((1, text)) => return serde_json::from_slice(&text).expect("server sends JSON"),
                Some((9, p)) => self.send_frame(10, &p),
                Some((8, p)) => panic!("server closed the websocket: {p:?}"),
                Some(_) => {}
                None => panic!("websocket ended"),
            }
        }
    }

    /// Messages until (and including) the one for which `last` holds.
    pub fn recv_until(&mut self, mut last: impl FnMut(&serde_json::Value) -> bool) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        loop {
            let m = self.recv();
            let done = last(&m);
            out.push(m);
            if done {
                return out;
            }
        }
    }
}

/// One masked client frame (RFC 6455 §5.2), also for tests that write raw bytes.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x11, 0x22, 0x33, 0x44];
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Reads one server frame (which must be unmasked); `None` when the connection ended.
pub fn read_frame(r: &mut impl Read) -> Option<Frame> {
    let mut h = [0u8; 2];
    r.read_exact(&mut h).ok()?;
    assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).ok()?;
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            r.read_exact(&mut b).ok()?;
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0; len];
    r.read_exact(&mut payload).ok()?;
    Some((h[0] & 0x0f, payload))
}
