//! A static file server on 127.0.0.1 for the install.sh and update lanes (GET only, one
//! thread per request). It logs every request path, and `/redirect-http/<file>` answers with
//! a redirect to plain http on another host (which the clients must refuse to follow).

use anyhow::Result;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A running server: its base URL and the paths requested so far.
#[derive(Clone)]
pub struct Served {
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Served {
    /// The request paths so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// Serve `root` on an ephemeral loopback port for the rest of the process; returns the base URL.
pub fn serve(root: PathBuf) -> Result<String> {
    Ok(serve_logged(root)?.url)
}

/// Like [`serve`], keeping a log of the requested paths.
pub fn serve_logged(root: PathBuf) -> Result<Served> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let served = Served {
        url: format!("http://{}", listener.local_addr()?),
        requests: Arc::new(Mutex::new(Vec::new())),
    };
    let log = served.requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            let log = log.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let mut reader = BufReader::new(match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => return,
                });
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                    line.clear();
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                if let Ok(mut l) = log.lock() {
                    l.push(path.clone());
                }
                let mut stream = stream;
                if let Some(file) = path.strip_prefix("/redirect-http/") {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 302 Found\r\nLocation: http://example.invalid/{file}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    return;
                }
                let safe = !path.contains("..");
                let file = root.join(path.trim_start_matches('/'));
                match std::fs::read(&file) {
                    Ok(body) if safe && file.is_file() => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(&body);
                    }
                    _ => {
                        let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                }
            });
        }
    });
    Ok(served)
}
